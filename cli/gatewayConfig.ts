/**
 * A gateway's configuration (`shardflow gateway tcp|rest|mqtt-bridge|files --config FILE`): YAML with
 * the same `SHARDFLOW_<SECTION>__<KEY>` overrides as a worker's, its own file (a gateway reaches only
 * the stream: no database, no lease table). Each gateway reads its section; one file may hold all four.
 */
import { z } from 'zod';
import { filesGatewayConfigSchema } from '../gateways/files/config.ts';
import { producerConfigSchema, streamTargetSchema } from '../gateways/ingest/config.ts';
import { mqttBridgeConfigSchema } from '../gateways/mqtt/config.ts';
import { restGatewayConfigSchema } from '../gateways/rest/config.ts';
import { tcpGatewayConfigSchema } from '../gateways/tcp/config.ts';
import { adminConfigSchema, loadConfigFileWith, logConfigSchema, urlsHoldingPasswords } from './config.ts';

export const gatewayConfigSchema = z
  .object({
    stream: streamTargetSchema.describe('the telemetry stream the gateways write and the workers read'),
    producer: producerConfigSchema.describe('how records are buffered and put (PutRecords, KPL aggregation)'),
    specs: z
      .object({
        dir: z
          .string()
          .min(1)
          .describe(
            "the product specs (the workers' decode.specDir): the TCP and file gateways read each frame's device or hub id with them for its partition key",
          ),
      })
      .strict()
      .optional()
      .describe(
        'without it, a TCP frame is keyed by its connection and a file record by its file (order kept, shard not the device’s)',
      ),
    tcp: tcpGatewayConfigSchema.optional().describe('`shardflow gateway tcp`: listeners, framing, acks'),
    rest: restGatewayConfigSchema
      .optional()
      .describe('`shardflow gateway rest`: the HTTP(S) endpoint, auth, limits'),
    mqtt: mqttBridgeConfigSchema
      .optional()
      .describe('`shardflow gateway mqtt-bridge`: the broker and session'),
    files: filesGatewayConfigSchema.optional().describe('`shardflow gateway files`: framing, progress, S3'),
    log: logConfigSchema,
    admin: adminConfigSchema,
  })
  .strict()
  .superRefine((c, ctx) => {
    for (const path of urlsHoldingPasswords(c))
      ctx.addIssue({
        code: 'custom',
        path,
        message: 'holds a password: credentials come from the environment or Secrets Manager only',
      });
  });
export type GatewayConfig = z.output<typeof gatewayConfigSchema>;
export type GatewayConfigInput = z.input<typeof gatewayConfigSchema>;

/** Reads and validates a gateway configuration file (with environment overrides). */
export function loadGatewayConfig(file: string, env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  return loadConfigFileWith(gatewayConfigSchema, file, env);
}
