/**
 * The gateway configuration: the example is valid, a bad key or value is refused with its path; the
 * command exits 2 for a configuration without its section and 3 for a stream it cannot reach.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfigWith } from '../../../cli/config.ts';
import { gatewayConfigSchema, loadGatewayConfig } from '../../../cli/gatewayConfig.ts';
import { CLI_TEST_TIMEOUT_MS, runCli } from '../../support/cli.ts';

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

describe('shardflow gateway', { timeout: CLI_TEST_TIMEOUT_MS }, () => {
  const file = (text: string) => {
    const path = join(mkdtempSync(join(tmpdir(), 'gateway-cli-')), 'gateways.yaml');
    writeFileSync(path, text);
    return path;
  };

  it('exits 2 naming the section a gateway needs, 3 naming the stream it cannot reach', async () => {
    const noTcp = await runCli(['gateway', 'tcp', '--config', file('stream: { streamName: s }\n')]);
    expect(noTcp.code).toBe(2);
    expect(noTcp.stderr).toMatch(/tcp: is required by this gateway/);
    const unreachable = await runCli([
      'gateway',
      'rest',
      '--config',
      file(
        'stream: { streamName: s, endpoint: "http://127.0.0.1:1" }\nproducer: { requestTimeoutMs: 1000 }\nrest: { port: 0, auth: none }\n',
      ),
    ]);
    expect(unreachable.code).toBe(3);
    expect(unreachable.stderr).toMatch(
      /cannot reach Kinesis \(stream\.streamName\) at http:\/\/127\.0\.0\.1:1/,
    );
  });
});
