/**
 * A stop whose drain runs out of time says why: which shard could not drain, which node was
 * retrying what, and from which checkpoint the shard's records are read again.
 */
import { describe, expect, it } from 'vitest';
import {
  DrainTimeoutError,
  MemorySource,
  type Sink,
  silentLogger,
  TopologyBuilder,
  TopologyRuntime,
} from '../../../topology/index.ts';
import { arraySink } from './fixtures.ts';

describe('a stop past the drain timeout', () => {
  it('fails with the stalled shard, node, error and checkpoint, not with the aborted retry', async () => {
    let down = false;
    const flaky: Sink<number> = {
      type: 'flaky',
      write: async () => {
        if (down) throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
      },
    };
    const b = new TopologyBuilder('drain');
    const source = new MemorySource<number>();
    const input = b.source('input', source);
    input.to('db', flaky);
    input.to('copy', arraySink<number>([]));
    const errors: Array<{ fields: Record<string, unknown>; message: string }> = [];
    const runtime = new TopologyRuntime(b.build(), {
      drainTimeoutMs: 300,
      checkpointIntervalMs: 0,
      log: {
        ...silentLogger,
        error: (fields, message) => errors.push({ fields: fields as Record<string, unknown>, message }),
      },
      sinkRetry: { maxAttempts: 0, initialDelayMs: 20, maxDelayMs: 20 },
    });
    const run = runtime.run();
    run.catch(() => {});
    const checkpointed = source.push('shard-7', [1]);
    while ((source.checkpoints.get('shard-7') ?? []).length === 0) await new Promise((r) => setTimeout(r, 5));
    down = true;
    source.push('shard-7', [2, 3]);
    await new Promise((r) => setTimeout(r, 100));

    // stop() ends with the same error, never with the abort of its own report timer
    await expect(runtime.stop()).rejects.toBeInstanceOf(DrainTimeoutError);
    const error = await run.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DrainTimeoutError);
    const message = (error as Error).message;
    expect(message).toContain('shard shard-7 of input: stalled at node db');
    expect(message).toContain('last error: connect ECONNREFUSED 127.0.0.1:5432');
    expect(message).toContain(
      `records after checkpoint ${checkpointed.sequenceNumber} were not checkpointed`,
    );
    expect((error as DrainTimeoutError).shards[0]).toMatchObject({
      shardId: 'shard-7',
      checkpoint: checkpointed,
    });
    expect(errors.map((e) => e.message)).toContain(
      'drain timeout: retries aborted; these shards were not drained, their records after the checkpoint are read again by the next owner',
    );
  });
});
