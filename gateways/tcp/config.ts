/**
 * The TCP gateway's section of the gateway configuration: one listener per product (devices of one
 * product share a port behind the Network Load Balancer), each with its framing and its ack bytes.
 */
import { z } from 'zod';
import { framingSchema } from '../framing/deframer.ts';

const ackSchema = z
  .union([
    z
      .object({
        hex: z
          .string()
          .regex(/^([0-9a-fA-F]{2})+$/, 'pairs of hex digits')
          .describe('the ack as hex, e.g. 06'),
      })
      .strict(),
    z.object({ text: z.string().min(1).describe('the ack as UTF-8 text, e.g. "OK\\n"') }).strict(),
    z.literal('none').describe('devices get no ack'),
  ])
  .default('none')
  .describe('bytes written back after each frame once it is in the stream, in frame order');

/** One port the gateway listens on. */
export const tcpListenerSchema = z
  .object({
    name: z
      .string()
      .min(1)
      .optional()
      .describe("the listener's name, used as the envelope's source instead of tcp:<peer ip>:<port>"),
    port: z.number().int().min(0).max(65_535).describe('the TCP port (0: any free port)'),
    host: z.string().min(1).default('0.0.0.0').describe('the address to listen on'),
    productId: z
      .string()
      .min(1)
      .optional()
      .describe("the product every frame on this port is (the envelope's productId)"),
    framing: framingSchema.describe('how the byte stream is cut into messages'),
    ack: ackSchema,
    idleTimeoutMs: z
      .number()
      .int()
      .min(100)
      .default(5 * 60_000)
      .describe('a connection silent this long (and with nothing pending) is closed'),
    maxConnections: z
      .number()
      .int()
      .min(1)
      .default(10_000)
      .describe('connections at once; a further one is closed at once (and logged)'),
    maxPendingFramesPerConnection: z
      .number()
      .int()
      .min(1)
      .max(100_000)
      .default(256)
      .describe(
        'frames read on one connection and not yet acknowledged; at the bound its socket is not read',
      ),
  })
  .strict();

/** The `tcp` section: its listeners and how long closing may take. */
export const tcpGatewayConfigSchema = z
  .object({
    listeners: z.array(tcpListenerSchema).min(1).describe('one listener per product and port'),
    drainTimeoutMs: z
      .number()
      .int()
      .min(0)
      .default(10_000)
      .describe(
        'on close, and after broken framing, how long pending frames may take to become durable and acknowledged before the socket is destroyed',
      ),
  })
  .strict()
  .superRefine((config, ctx) => {
    const seen = new Set<string>();
    config.listeners.forEach((listener, i) => {
      const at = `${listener.host}:${listener.port}`;
      if (listener.port !== 0 && seen.has(at))
        ctx.addIssue({
          code: 'custom',
          path: ['listeners', i, 'port'],
          message: `${at} is listened on twice`,
        });
      seen.add(at);
    });
  });

export type TcpGatewayConfig = z.output<typeof tcpGatewayConfigSchema>;
export type TcpGatewayConfigInput = z.input<typeof tcpGatewayConfigSchema>;
export type TcpListenerConfig = z.output<typeof tcpListenerSchema>;

/** The bytes of a listener's ack, `undefined` for none. */
export function ackBytes(ack: TcpListenerConfig['ack']): Buffer | undefined {
  if (ack === 'none') return undefined;
  return 'hex' in ack ? Buffer.from(ack.hex, 'hex') : Buffer.from(ack.text, 'utf8');
}
