/**
 * The dead-letter sink's last line: a letter the store refuses for what it holds is written again
 * sanitised, and a store that refuses even that stops the worker with a message instead of stalling
 * the shard for ever. The refusing store is a fake that injects the fault.
 */
import { describe, expect, it } from 'vitest';
import { type DeadLetterStore, deadLetterStoreSink } from '../../../../sinks/deadletter/deadLetterStore.ts';
import {
  type DeadLetter,
  isFatal,
  ManualClock,
  MemorySource,
  RecordRejectedError,
  TopologyBuilder,
  TopologyTestDriver,
} from '../../../../topology/index.ts';

const letter: DeadLetter = {
  node: 'decode',
  reason: 'bad \u0000 byte',
  code: 'bad-value',
  stream: 'telemetry',
  shardId: 'shard-1',
  sequenceNumber: '5',
  item: 'i\u0001',
  payloadBase64: 'AAE=',
  failedAt: 0,
};

/** A store refusing any letter with a control character, or everything. */
function refusingStore(refuseAll: boolean): DeadLetterStore & { stored: DeadLetter[]; calls: number } {
  const store = {
    store: { name: 'fake.dead_letters', kind: 'fake' },
    stored: [] as DeadLetter[],
    calls: 0,
    async write(batch: readonly DeadLetter[]) {
      store.calls++;
      // biome-ignore lint/suspicious/noControlCharactersInRegex: what the fake store refuses
      if (refuseAll || batch.some((d) => /[\u0000-\u001f]/.test(d.reason + (d.item ?? ''))))
        throw new RecordRejectedError({ store: 'fake', code: '22021' }, 'invalid byte sequence');
      store.stored.push(...batch);
    },
  };
  return store;
}

const ctx = {
  node: 'dead-letters',
  shardId: 'shard-1',
  position: { sequenceNumber: '5', subSequenceNumber: 0 },
  clock: new ManualClock(0),
};

describe('dead-letter sink', () => {
  it('writes a letter the store refuses again with sanitised text, keeping payload and position', async () => {
    const store = refusingStore(false);
    await deadLetterStoreSink(store).write([letter], ctx);
    expect(store.calls).toBe(2);
    expect(store.stored).toEqual([
      {
        ...letter,
        reason: 'bad \ufffd byte [text sanitised: the store refused the dead letter as it was]',
        item: 'i\ufffd',
      },
    ]);
  });

  it('stops the worker with a message when the store refuses even the sanitised letter', async () => {
    const store = refusingStore(true);
    const error = await deadLetterStoreSink(store)
      .write([letter], ctx)
      .catch((e: unknown) => e);
    expect(isFatal(error)).toBe(true);
    expect(String(error)).toContain('fake.dead_letters refused 1 dead letter(s) even with sanitised text');

    const b = new TopologyBuilder('fatal');
    const input = b.source('input', new MemorySource<DeadLetter>());
    input.to('dead-letters', deadLetterStoreSink(refusingStore(true)));
    const driver = new TopologyTestDriver(b.build(), { sinks: 'tap' });
    driver.send(input, 'shard-1', [letter]);
    await expect(driver.settle()).rejects.toThrow(/even with sanitised text/);
    expect(driver.checkpoints(input, 'shard-1')).toEqual([]);
    await driver.close().catch(() => {});
  });
});
