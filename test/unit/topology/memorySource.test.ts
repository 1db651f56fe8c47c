/**
 * The in-memory source gives a test what a Kinesis source gives the runtime: shards with their
 * lineage (a split or merge child) and, when asked, the position of each record.
 */
import { describe, expect, it } from 'vitest';
import {
  ManualClock,
  MemorySource,
  type Position,
  type ShardHandle,
  type ShardLineage,
  TopologyBuilder,
  TopologyTestDriver,
} from '../../../topology/index.ts';
import { arraySink } from './fixtures.ts';

const MAX_HASH = (2n ** 128n - 1n).toString();
const HALF = (2n ** 127n).toString();

const left: ShardLineage = {
  parentShardIds: ['shard-0'],
  hashKeyRange: { startingHashKey: '0', endingHashKey: (2n ** 127n - 1n).toString() },
};

/** The shards a source yields until `count` have come. */
async function shardsOf<T>(source: MemorySource<T>, count: number): Promise<ShardHandle<T>[]> {
  const handles: ShardHandle<T>[] = [];
  const stop = new AbortController();
  for await (const handle of source.shards({
    node: 'input',
    clock: new ManualClock(0),
    signal: stop.signal,
  })) {
    handles.push(handle);
    if (handles.length === count) break;
  }
  stop.abort();
  return handles;
}

interface Reading {
  readonly seq: number;
  readonly key: string;
}

describe('MemorySource', () => {
  it('opens a shard with the lineage given; a shard opened by push has none', async () => {
    const source = new MemorySource<number>();
    source.push('shard-0', [1, 2]);
    source.open('shard-1', left);
    source.open('shard-2', {
      parentShardIds: ['shard-0'],
      hashKeyRange: { startingHashKey: HALF, endingHashKey: MAX_HASH },
    });
    source.push('shard-1', [3]);
    const [parent, child, sibling] = await shardsOf(source, 3);
    expect(parent!.shardId).toBe('shard-0');
    expect(parent!.lineage).toBeUndefined();
    expect(child).toMatchObject({ shardId: 'shard-1', lineage: left });
    expect(sibling!.lineage?.hashKeyRange.startingHashKey).toBe(HALF);
  });

  it('refuses to open a shard twice, so a lineage is never dropped silently', () => {
    const source = new MemorySource<number>();
    source.push('shard-1', [1]);
    expect(() => source.open('shard-1', left)).toThrow(/shard-1 is open already/);
    source.open('shard-2', left);
    expect(() => source.open('shard-2', left)).toThrow(/open already/);
  });

  it('has positionOf only when given one, and it agrees with the batch positions', () => {
    expect(new MemorySource<number>().positionOf).toBeUndefined();
    const positionOf = (r: Reading): Position => ({ sequenceNumber: String(r.seq), subSequenceNumber: 0 });
    const source = new MemorySource<Reading>({ positionOf });
    expect(source.positionOf).toBe(positionOf);
    // records of a batch pushed after position p are at p + 1, p + 2, …; the batch at its last
    const first = source.push('shard-0', [
      { seq: 1, key: 'a' },
      { seq: 2, key: 'b' },
    ]);
    const second = source.push('shard-0', [{ seq: 3, key: 'a' }]);
    expect(first).toEqual(positionOf({ seq: 2, key: 'b' }));
    expect(second).toEqual(positionOf({ seq: 3, key: 'a' }));
  });

  it('lets the test driver open a child shard with its lineage before sending to it', async () => {
    const b = new TopologyBuilder('memory');
    const input = b.source('input', new MemorySource<number>());
    const out = input.to('out', arraySink<number>([]));
    const driver = new TopologyTestDriver(b.build());
    driver.openShard(input, 'shard-1', left);
    expect(() => driver.openShard(input, 'shard-1', left)).toThrow(/open already/);
    driver.send(input, 'shard-1', [7]);
    await driver.settle();
    expect(driver.output(out)).toEqual([7]);
    await driver.close();
  });
});
