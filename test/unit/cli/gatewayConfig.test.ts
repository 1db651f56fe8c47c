/** The gateway configuration: the example is valid, a bad key or value is refused with its path. */
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfigWith } from '../../../cli/config.ts';
import { gatewayConfigSchema, loadGatewayConfig } from '../../../cli/gatewayConfig.ts';

const problems = (raw: unknown, env: NodeJS.ProcessEnv = {}) => {
  try {
    parseConfigWith(gatewayConfigSchema, raw, env, 'gateways.yaml');
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
};

describe('gateway configuration', () => {
  it('accepts the example file, with its defaults', () => {
    const config = loadGatewayConfig(new URL('../../../gateways.example.yaml', import.meta.url).pathname, {});
    expect(config.stream.streamName).toBe('telemetry');
    expect(config.tcp?.listeners.map((l) => l.productId)).toEqual(['env-h1', 'valve-k7']);
    expect(config.producer.maxBufferedRecords).toBe(100_000);
  });

  it('names the key of every problem, environment overrides included', () => {
    expect(
      problems(
        {
          stream: { streamName: 's' },
          tcp: { listeners: [{ port: 70_000, framing: { kind: 'length-prefix', lengthBytes: 3 } }] },
          extra: true,
        },
        { SHARDFLOW_PRODUCER__LINGER_MS: '-1' },
      ),
    ).toEqual(
      expect.arrayContaining([
        'extra: unknown key',
        expect.stringMatching(/^producer\.lingerMs \(from SHARDFLOW_PRODUCER__LINGER_MS\): /),
        expect.stringMatching(/^tcp\.listeners\.0\.port: /),
        expect.stringMatching(/^tcp\.listeners\.0\.framing\.lengthBytes: /),
      ]),
    );
    expect(problems({ stream: { streamName: 's', endpoint: 'http://user:secret@127.0.0.1:4567' } })).toEqual([
      'stream.endpoint: holds a password: credentials come from the environment or Secrets Manager only',
    ]);
    expect(problems({})).toEqual(['stream: is required']);
  });
});
