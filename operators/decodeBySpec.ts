/**
 * Decodes raw records by the product specs in force: finds each record's spec (envelope product,
 * topic pattern or magic bytes), decodes its frame, builds standard telemetry, applies the data
 * contract, and admits what no store could refuse (`decode/admission.ts`). A record that matches no
 * spec, cannot be decoded, breaks its contract or would be refused by a store goes to `dlq` with a
 * stable reason code, the spec id and version, and its bytes; the stream keeps flowing.
 */
import { z } from 'zod';
import type { DeadLetter, Operator, RawRecord, Telemetry } from '../topology/index.ts';
import { deadLetterOf } from '../topology/records.ts';
import { type AdmissionConfig, admissionConfigSchema, compileAdmission } from './decode/admission.ts';
import { readIncoming } from './decode/envelope.ts';
import { DecodeError } from './decode/errors.ts';
import type { DeviceRegistry } from './decode/match.ts';
import type { SpecRegistry } from './decode/registry.ts';

export type { DeviceRegistry } from './decode/match.ts';

/** Configuration of the decode stage. */
export const decodeConfigSchema = z
  .object({
    specDir: z
      .string()
      .min(1)
      .optional()
      .describe('directory of product specs (*.yaml); the bundled example specs when absent'),
    reloadIntervalMs: z
      .number()
      .int()
      .min(100)
      .default(5000)
      .describe('how often the directory is checked for changed specs'),
    registryRefreshMs: z
      .number()
      .int()
      .min(1000)
      .default(30_000)
      .describe('how often the device → product map of match.registry specs is read from the master data'),
    admission: admissionConfigSchema
      .default(admissionConfigSchema.parse({}))
      .describe('limits on ids and texts every decoded record must meet before it reaches a store'),
  })
  .strict();
/** What the decode operator is given beside the specs. */
export interface DecodeOptions {
  /** Poll the spec directory this often (ms) and reload changed specs; no reloading when absent. */
  readonly reloadIntervalMs?: number;
  /** Which product a device is, for specs recognised through the device registry (`match.registry`). */
  readonly devices?: DeviceRegistry;
  /** Limits on what a decoded record may carry (the defaults of `decode.admission` when absent). */
  readonly admission?: AdmissionConfig;
}

/** Decodes and validates by spec; what cannot become telemetry goes to `dlq`. */
export function decodeBySpec(
  registry: SpecRegistry,
  options: DecodeOptions = {},
): Operator<RawRecord, Telemetry, { dlq: DeadLetter }> {
  const { devices } = options;
  const admission = compileAdmission(options.admission);
  return {
    type: 'decode-by-spec',
    sideOutputs: ['dlq'],
    // changed or added specs take effect without a restart
    open: (ctx) => {
      if (options.reloadIntervalMs !== undefined)
        void registry.watch(ctx.clock, options.reloadIntervalMs, ctx.signal);
    },
    process: function decodeBatch(batch, ctx) {
      const now = ctx.clock.now();
      const out: Telemetry[] = [];
      for (const record of batch) {
        let specId: string | undefined;
        let specVersion: number | undefined;
        try {
          const incoming = readIncoming(record);
          const spec = registry.find(incoming, devices);
          if (spec === undefined) {
            const what = incoming.envelope
              ? `product ${incoming.envelope.productId ?? '?'} on ${incoming.envelope.topic ?? 'no topic'}`
              : 'a bare payload';
            throw new DecodeError('no-spec', `no spec matches ${what}`);
          }
          specId = spec.spec.id;
          specVersion = spec.spec.version;
          const decoded = spec.decode(record, incoming, now);
          // a frame is admitted whole or dead-lettered whole, with its bytes
          const admit = admission.forSpec(spec.spec);
          for (const telemetry of decoded) admit(telemetry);
          for (const telemetry of decoded) out.push(telemetry);
        } catch (error) {
          if (!(error instanceof DecodeError)) throw error;
          ctx.side(
            'dlq',
            deadLetterOf(record, ctx.node, error.message, now, { code: error.code, specId, specVersion }),
          );
        }
      }
      return out;
    },
  };
}
