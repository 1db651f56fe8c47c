/** `shardflow scale-advice` as an operator runs it, against a 5-shard stream in kinesalite. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createKinesisClient } from '../../sources/kinesis/client.ts';
import { runCli } from '../support/cli.ts';
import { createStream, uniqueStream } from '../support/kinesis.ts';
import { testEnv } from '../support/wait.ts';

describe('shardflow scale-advice', () => {
  const endpoint = testEnv('SHARDFLOW_TEST_KINESIS_ENDPOINT');
  const kinesis = createKinesisClient({ region: 'us-east-1', endpoint });
  afterAll(() => kinesis.destroy());
  const config = join(mkdtempSync(join(tmpdir(), 'shardflow-scale-')), 'shardflow.yaml');
  writeFileSync(
    config,
    `source:\n  kinesis:\n    streamName: not-this-one\n    endpoint: ${endpoint}\nwarm:\n  writeUrl: embedded\n`,
  );

  it('advises one task per K open shards, rounded up (--stream overrides the configuration)', async () => {
    const stream = uniqueStream('scale');
    await createStream(kinesis, stream, 5);
    const text = await runCli(['scale-advice', '-c', config, '--stream', stream, '--shards-per-worker', '2']);
    expect(text.stderr).toBe('');
    expect(text.code).toBe(0);
    expect(text.stdout.trim()).toBe('open shards: 5, shards per worker: 2 → desired tasks: 3');

    const json = await runCli(['scale-advice', '-c', config, '--stream', stream, '-k', '2', '--json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({
      stream,
      openShards: 5,
      closedShards: 0,
      shardsPerWorker: 2,
      desiredTasks: 3,
    });
  });

  it('exits 2 for a bad K and 3 for a stream that does not exist', async () => {
    const bad = await runCli(['scale-advice', '-c', config, '--shards-per-worker', '0']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('expected an integer of at least 1');
    const missing = await runCli(['scale-advice', '-c', config, '-k', '2']);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain('stream "not-this-one" does not exist');
  });
});
