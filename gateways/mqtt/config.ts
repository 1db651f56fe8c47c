/** The `mqtt` section of a gateway configuration: which broker, which session, how much in flight. */
import { z } from 'zod';

const noWildcards = /^[^+#]*$/;

export const mqttBridgeConfigSchema = z
  .object({
    url: z
      .string()
      .regex(/^mqtts?:\/\/[^/]+(:\d+)?\/?$/, 'expected mqtt://host:port or mqtts://host:port')
      .describe('the broker: mqtt://host:port, or mqtts://host:port for TLS'),
    protocolVersion: z
      .union([z.literal(4), z.literal(5)])
      .default(5)
      .describe('MQTT protocol level: 4 is MQTT 3.1.1, 5 is MQTT 5 (shared subscriptions, receive maximum)'),
    clientId: z
      .string()
      .min(1)
      .max(128)
      .default('shardflow-mqtt-bridge')
      .describe(
        'the fixed client id of the persistent session: a restarted bridge with the same id receives again what was not acknowledged',
      ),
    shareGroup: z
      .string()
      .regex(/^[^/+#]+$/, 'a share group name holds no "/", "+" or "#"')
      .optional()
      .describe('subscribe as $share/<group>/<filter>, so that several bridges split the messages'),
    topicPrefix: z
      .string()
      .regex(noWildcards, 'a topic prefix holds no wildcards')
      .regex(/^([^/].*[^/]|[^/])?$/, 'a topic prefix neither starts nor ends with "/"')
      .default('')
      .describe('a prefix before the platform topics (`<prefix>/devices/...`); stripped from the envelope'),
    usernameEnv: z
      .string()
      .optional()
      .describe('name of the environment variable holding the broker username (never the value itself)'),
    passwordEnv: z
      .string()
      .optional()
      .describe('name of the environment variable holding the broker password (never the value itself)'),
    tls: z
      .object({
        caFile: z.string().optional().describe('PEM file of the CA that signed the broker certificate'),
        certFile: z.string().optional().describe('PEM client certificate, for brokers that want mTLS'),
        keyFile: z.string().optional().describe('PEM private key of the client certificate'),
        rejectUnauthorized: z
          .boolean()
          .default(true)
          .describe('refuse a broker whose certificate does not verify'),
        servername: z.string().optional().describe('the TLS server name (SNI), when not the url host'),
      })
      .strict()
      .optional()
      .describe('TLS options for an mqtts:// url'),
    keepaliveSeconds: z
      .number()
      .int()
      .min(5)
      .max(65_535)
      .default(30)
      .describe(
        'MQTT keepalive: a PINGREQ this often; no PINGRESP within one more period drops the connection',
      ),
    sessionExpirySeconds: z
      .number()
      .int()
      .min(60)
      .max(4_294_967_295)
      .default(86_400)
      .describe(
        'MQTT 5: how long the broker keeps the session (and unacknowledged messages) after a disconnect',
      ),
    maxInFlight: z
      .number()
      .int()
      .min(1)
      .max(65_535)
      .default(1000)
      .describe(
        'messages received and not yet acknowledged, past which the bridge stops reading (MQTT 5: also the receive maximum)',
      ),
    connectTimeoutMs: z
      .number()
      .int()
      .min(100)
      .default(10_000)
      .describe('time for the broker to answer CONNECT and SUBSCRIBE'),
    reconnectInitialDelayMs: z
      .number()
      .int()
      .min(0)
      .default(500)
      .describe('first wait before reconnecting after the broker went away; doubles per failed attempt'),
    reconnectMaxDelayMs: z.number().int().min(0).default(30_000).describe('cap of the reconnect wait'),
    closeDrainMs: z
      .number()
      .int()
      .min(0)
      .default(10_000)
      .describe('on close, longest wait for received messages to be durable and acknowledged'),
  })
  .strict()
  .refine((config) => config.passwordEnv === undefined || config.usernameEnv !== undefined, {
    message: 'MQTT sends a password only with a username: set usernameEnv too',
    path: ['passwordEnv'],
  });

/** The bridge's configuration, defaults filled in. */
export type MqttBridgeConfig = z.infer<typeof mqttBridgeConfigSchema>;
