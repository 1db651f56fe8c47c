/**
 * The REST gateway's configuration section. Keys never sit in the file: `auth.apiKeysEnv` names the
 * environment variable that holds them, and mTLS names the files of the server's certificate and the
 * CA that signs the devices' certificates. A gateway with no authentication must say so (`auth: none`).
 */
import { z } from 'zod';

const mtlsSchema = z
  .object({
    certFile: z.string().min(1).describe("PEM file of the server's certificate (chain)"),
    keyFile: z.string().min(1).describe("PEM file of the server's private key"),
    caFile: z
      .string()
      .min(1)
      .describe(
        "PEM file of the CA(s) a client's certificate must be signed by; its CN is the caller's name",
      ),
  })
  .strict()
  .describe('HTTPS with a client certificate required and verified');

const authSchema = z
  .union([
    z.literal('none').describe('no authentication (the gateway logs a warning at start)'),
    z
      .object({
        apiKeysEnv: z
          .string()
          .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name')
          .optional()
          .describe('environment variable holding the API keys as "name:key,name:key" (sent as x-api-key)'),
        mtls: mtlsSchema.optional(),
      })
      .strict()
      .refine((a) => a.apiKeysEnv !== undefined || a.mtls !== undefined, {
        message: 'auth needs apiKeysEnv, mtls or both; write `auth: none` to run without authentication',
      }),
  ])
  .describe('how callers are authenticated: API keys, mTLS, both, or explicitly none');

/** Configuration of the REST gateway (`gateways.rest` of the configuration file). */
export const restGatewayConfigSchema = z
  .object({
    port: z.number().int().min(0).max(65_535).describe('TCP port to listen on (0: any free port)'),
    host: z.string().min(1).default('0.0.0.0').describe('address to listen on'),
    maxBodyBytes: z
      .number()
      .int()
      .min(1)
      .max(64 * 1024 * 1024)
      .default(256 * 1024)
      .describe('largest request body; past it the answer is 413 and reading stops'),
    maxBatchMessages: z
      .number()
      .int()
      .min(1)
      .max(100_000)
      .default(500)
      .describe('most messages in one POST /v1/telemetry:batch'),
    ackTimeoutMs: z
      .number()
      .int()
      .min(1)
      .default(10_000)
      .describe('a request whose records are not durable by then is answered 503 (they may still land)'),
    headersTimeoutMs: z
      .number()
      .int()
      .min(1)
      .default(10_000)
      .describe('time a client has to send its request headers'),
    requestTimeoutMs: z
      .number()
      .int()
      .min(1)
      .default(30_000)
      .describe('time a client has to send its whole request'),
    keepAliveTimeoutMs: z
      .number()
      .int()
      .min(1)
      .default(5_000)
      .describe('how long an idle keep-alive connection stays open'),
    maxRequestsPerSocket: z
      .number()
      .int()
      .min(0)
      .default(1_000)
      .describe('requests one keep-alive connection may carry before it is closed (0: no limit)'),
    closeTimeoutMs: z
      .number()
      .int()
      .min(0)
      .default(15_000)
      .describe('on close, how long in-flight requests may take before connections are cut'),
    productHeader: z
      .string()
      .min(1)
      .regex(/^[A-Za-z0-9-]+$/, 'an HTTP header name')
      .transform((h) => h.toLowerCase())
      .default('x-product-id')
      .describe('request header naming the product (the query parameter productId wins)'),
    auth: authSchema,
  })
  .strict();

/** The gateway's configuration as written (defaults not yet applied). */
export type RestGatewayConfigInput = z.input<typeof restGatewayConfigSchema>;
/** The gateway's validated configuration. */
export type RestGatewayConfig = z.output<typeof restGatewayConfigSchema>;
