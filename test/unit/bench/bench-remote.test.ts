/**
 * The remote mode (real AWS endpoints, never run on these machines) refuses to start on a
 * configuration it cannot use, naming the key or the setting that is missing: no configuration
 * file, a file with keys missing or wrong, and no AWS credentials.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  checkRemoteCredentials,
  loadRemoteConfig,
  parseRemoteConfig,
  RemoteConfigError,
} from '../../../bench/harness/remote.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'bench-remote-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const at = path.join(dir, name);
  writeFileSync(at, text);
  return at;
}

function refusal(f: () => unknown): string {
  try {
    f();
  } catch (error) {
    expect(error).toBeInstanceOf(RemoteConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a RemoteConfigError');
}

const complete = {
  region: 'eu-central-1',
  kinesis: { streamName: 'bench', endpoint: 'https://kinesis.eu-central-1.amazonaws.com' },
  leases: { tableName: 'bench-leases' },
  warm: { writeUrl: 'postgres://u:p@aurora:5432/warm' },
};

describe('bench remote mode: configuration', () => {
  it('needs --remote-config, and says which keys it must hold', () => {
    expect(refusal(() => loadRemoteConfig(undefined))).toMatch(
      /--mode remote needs --remote-config FILE \(region, kinesis, leases, warm\)/,
    );
  });

  it('names the file that cannot be read or parsed', () => {
    expect(refusal(() => loadRemoteConfig(path.join(dir, 'absent.yaml')))).toMatch(
      /cannot read .*absent\.yaml/,
    );
    expect(refusal(() => loadRemoteConfig(file('broken.yaml', 'region: [eu')))).toMatch(
      /broken\.yaml is not valid YAML/,
    );
  });

  it('names each endpoint key that is missing or wrong, from the file', () => {
    const message = refusal(() =>
      loadRemoteConfig(
        file(
          'partial.yaml',
          'region: eu-central-1\nkinesis:\n  endpoint: not a url\nleases: {}\nredisUrl: http://cache:6379\n',
        ),
      ),
    );
    expect(message).toContain('partial.yaml');
    expect(message).toContain('kinesis.streamName: is required');
    expect(message).toContain('kinesis.endpoint');
    expect(message).toContain('leases.tableName: is required');
    expect(message).toContain('warm: is required');
    expect(message).toContain('redisUrl: expected a redis:// or rediss:// URL');
  });

  it('reads a complete file, producing by default', () => {
    const config = loadRemoteConfig(
      file(
        'complete.yaml',
        'region: eu-central-1\nkinesis:\n  streamName: bench\nleases:\n  tableName: bench-leases\nwarm:\n  writeUrl: postgres://u:p@aurora:5432/warm\n',
      ),
    );
    expect(config).toMatchObject({ region: 'eu-central-1', produce: true, kinesis: { streamName: 'bench' } });
  });
});

describe('bench remote mode: credentials', () => {
  const config = parseRemoteConfig(complete);

  it('refuses to start without AWS credentials, naming the settings that provide them', async () => {
    // A credential chain that finds nothing (what the SDK's throws on a machine without any);
    // the real chain would depend on this machine's environment and files.
    const none = async () => {
      throw new Error('Could not load credentials from any providers');
    };
    const error = await checkRemoteCredentials(config, none).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RemoteConfigError);
    const message = (error as Error).message;
    expect(message).toContain('region eu-central-1');
    expect(message).toContain('AWS_ACCESS_KEY_ID');
    expect(message).toContain('AWS_PROFILE');
    expect(message).toContain('Could not load credentials from any providers');
  });

  it('starts when the chain resolves credentials', async () => {
    await expect(
      checkRemoteCredentials(config, async () => ({ accessKeyId: 'a', secretAccessKey: 'b' })),
    ).resolves.toBeUndefined();
  });

  it('uses the SDK chain by default: static keys in the environment are found', async () => {
    const saved = { ...process.env };
    Object.assign(process.env, {
      AWS_ACCESS_KEY_ID: 'AKIDBENCHTEST',
      AWS_SECRET_ACCESS_KEY: 'secret',
      AWS_EC2_METADATA_DISABLED: 'true',
    });
    try {
      await expect(checkRemoteCredentials(config)).resolves.toBeUndefined();
    } finally {
      for (const key of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_EC2_METADATA_DISABLED'])
        if (saved[key] === undefined) delete process.env[key];
        else process.env[key] = saved[key];
    }
  });
});
