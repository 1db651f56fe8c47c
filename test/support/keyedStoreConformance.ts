/**
 * The conformance suite every keyed state store runs (`topology/keyedState.ts`, `StateStore`; embedded:
 * a unit test, Redis: an integration test). `make()` returns a fresh, opened store with no state;
 * `make(true)` another worker's store on the state of the previous `make()` (the fencing tests need two).
 * A store that can lose its state (Redis) gives `empty`, which empties the previous `make()`'s state.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  type Position,
  type PublishedWrite,
  type SnapshotWrite,
  type StateEntry,
  StateFencedError,
  StateLostError,
  type StateStore,
  type StoredSnapshot,
} from '../../topology/index.ts';

/** Makes a fresh store; with `again`, another worker's store on the same state as the previous call's. */
export type MakeStateStore = (again?: boolean) => Promise<StateStore>;

/** What a store can do besides: `empty` the previous `make()`'s state (a Redis restarted empty). */
export interface ConformanceOptions {
  readonly empty?: () => Promise<void>;
}

const at = (sequenceNumber: string, subSequenceNumber = 0): Position => ({
  sequenceNumber,
  subSequenceNumber,
});
const entry = (key: string, value: string | Uint8Array): StateEntry => ({
  key,
  value: typeof value === 'string' ? new TextEncoder().encode(value) : value,
});

/** A snapshot's entries as key → hex, to compare regardless of order. */
export function contents(snapshot: StoredSnapshot | undefined): Record<string, string> | undefined {
  if (snapshot === undefined) return undefined;
  return Object.fromEntries(snapshot.entries.map((e) => [e.key, Buffer.from(e.value).toString('hex')]));
}
const hex = (text: string) => Buffer.from(text).toString('hex');

function write(
  shardId: string,
  owner: string,
  position: Position,
  upserts: readonly StateEntry[],
  deletes: readonly string[] = [],
  published?: Partial<PublishedWrite>,
): SnapshotWrite {
  if (published === undefined) return { shardId, owner, position, upserts, deletes };
  const { upserts: pu = [], deletes: pd = [], watermarks = [] } = published;
  return { shardId, owner, position, upserts, deletes, published: { upserts: pu, deletes: pd, watermarks } };
}

const HOUR = 3_600_000;
/** A published entry of `group` that lives an hour. */
const pub = (group: string, value: string) => ({
  group,
  value: new TextEncoder().encode(value),
  ttlMs: HOUR,
});

/** What `readPublished` gave, as group → shard → text. */
async function publishedText(store: StateStore, groups: readonly string[]) {
  const read = await store.readPublished(groups);
  return Object.fromEntries(
    Array.from(read, ([group, byShard]) => [
      group,
      Object.fromEntries(Array.from(byShard, ([shard, bytes]) => [shard, Buffer.from(bytes).toString()])),
    ]),
  );
}

/** A node's published watermarks, by shard. */
async function watermarksOf(store: StateStore, node: string) {
  const all = await store.publishedWatermarks(node);
  return Object.fromEntries(all.map((w) => [w.shardId, [w.watermark, w.activeAt]]));
}

/** Registers the shared suite for one store. */
export function describeStateStoreConformance(
  name: string,
  make: MakeStateStore,
  options: ConformanceOptions = {},
): void {
  describe(`keyed state store conformance: ${name}`, () => {
    const opened: StateStore[] = [];
    const fresh = async (again = false) => {
      const store = await make(again);
      opened.push(store);
      return store;
    };
    afterEach(async () => {
      for (const s of opened.splice(0)) await s.close();
    });

    it('has no snapshot of a shard never written, claimed or not', async () => {
      const s = await fresh();
      expect(await s.read('shard-1')).toBeUndefined();
      expect(await s.claim('shard-1', 'a')).toBeUndefined();
      expect(await s.read('shard-1')).toBeUndefined();
      expect(await s.claim('shard-1', 'b')).toBeUndefined();
    });

    it('returns what was written, with its position, to the next claim', async () => {
      const s = await fresh();
      await s.claim('shard-1', 'a');
      const receipt = await s.write(
        write('shard-1', 'a', at('100', 2), [entry('k1', 'one'), entry('k2', 'two')]),
      );
      expect(receipt.bytes).toBeGreaterThanOrEqual('k1onek2two'.length);
      expect(receipt.roundTrips).toBeLessThanOrEqual(1);
      const claimed = await s.claim('shard-1', 'b');
      expect(claimed?.position).toEqual(at('100', 2));
      expect(contents(claimed)).toEqual({ k1: hex('one'), k2: hex('two') });
    });

    it('applies the changes of successive snapshots: upserts replace, deletes remove, the rest stays', async () => {
      const s = await fresh();
      await s.claim('shard-1', 'a');
      await s.write(write('shard-1', 'a', at('100'), [entry('k1', '1'), entry('k2', '2'), entry('k3', '3')]));
      await s.write(
        write('shard-1', 'a', at('101'), [entry('k2', '2b'), entry('k4', '4')], ['k1', 'absent']),
      );
      const read = await s.read('shard-1');
      expect(read?.position).toEqual(at('101'));
      expect(contents(read)).toEqual({ k2: hex('2b'), k3: hex('3'), k4: hex('4') });
      // a snapshot that only deletes, and one that changes nothing but the position
      await s.write(write('shard-1', 'a', at('102'), [], ['k2', 'k3', 'k4']));
      await s.write(write('shard-1', 'a', at('103'), []));
      expect(await s.read('shard-1')).toEqual({ position: at('103'), entries: [] });
      // a key both upserted and deleted in one snapshot is deleted
      await s.write(write('shard-1', 'a', at('104'), [entry('k5', '5')], ['k5']));
      expect(contents(await s.read('shard-1'))).toEqual({});
    });

    it('ignores a snapshot below the stored position (decimal order by length, then sub-sequence) and applies one at it', async () => {
      const s = await fresh();
      await s.claim('shard-1', 'a');
      await s.write(write('shard-1', 'a', at('10', 3), [entry('k', 'first at 10.3')]));
      await s.write(write('shard-1', 'a', at('10', 3), [entry('k', 'at 10.3')]));
      for (const stale of [at('10', 2), at('9', 9), at('1', 20)])
        await s.write(write('shard-1', 'a', stale, [entry('k', 'stale'), entry('new', 'stale')], ['k']));
      const kept = await s.read('shard-1');
      expect(kept?.position).toEqual(at('10', 3));
      expect(contents(kept)).toEqual({ k: hex('at 10.3') });
      await s.write(write('shard-1', 'a', at('10', 4), [entry('k', 'at 10.4')]));
      await s.write(write('shard-1', 'a', at('100'), [entry('k', 'at 100')]));
      const read = await s.read('shard-1');
      expect(read?.position).toEqual(at('100'));
      expect(contents(read)).toEqual({ k: hex('at 100') });
    });

    it('refuses the writes of an owner whose claim was taken over, and of a worker that never claimed', async () => {
      const a = await fresh();
      const b = await fresh(true);
      await a.claim('shard-1', 'owner-a');
      await a.write(write('shard-1', 'owner-a', at('100'), [entry('k', 'from a')]));
      const taken = await b.claim('shard-1', 'owner-b');
      expect(contents(taken)).toEqual({ k: hex('from a') });
      // also refused when its position is beyond the stored one
      await expect(
        a.write(write('shard-1', 'owner-a', at('200'), [entry('k', 'late a')])),
      ).rejects.toBeInstanceOf(StateFencedError);
      await b.write(write('shard-1', 'owner-b', at('150'), [entry('k', 'from b')]));
      await expect(a.write(write('shard-1', 'owner-a', at('300'), [], ['k']))).rejects.toBeInstanceOf(
        StateFencedError,
      );
      await expect(
        b.write(write('shard-2', 'owner-b', at('1'), [entry('k', 'unclaimed')])),
      ).rejects.toBeInstanceOf(StateFencedError);
      const read = await a.read('shard-1');
      expect(read?.position).toEqual(at('150'));
      expect(contents(read)).toEqual({ k: hex('from b') });
      expect(await a.read('shard-2')).toBeUndefined();
      // a claim again by the first worker (with a new token) takes the shard back
      await a.claim('shard-1', 'owner-a2');
      await expect(b.write(write('shard-1', 'owner-b', at('400'), []))).rejects.toBeInstanceOf(
        StateFencedError,
      );
      await a.write(write('shard-1', 'owner-a2', at('400'), []));
    });

    it('reads without fencing the owner', async () => {
      const owner = await fresh();
      const reader = await fresh(true);
      await owner.claim('parent', 'owner');
      await owner.write(write('parent', 'owner', at('5'), [entry('k', 'v1')]));
      expect(contents(await reader.read('parent'))).toEqual({ k: hex('v1') });
      await owner.write(write('parent', 'owner', at('6'), [entry('k', 'v2')]));
      expect(contents(await reader.read('parent'))).toEqual({ k: hex('v2') });
    });

    it('resets a shard to empty state at a position, or at the stream start, ending every claim', async () => {
      const s = await fresh();
      await s.claim('shard-1', 'a');
      await s.write(write('shard-1', 'a', at('500'), [entry('k1', '1'), entry('k2', '2')]));
      await s.reset('shard-1', at('300', 1));
      expect(await s.read('shard-1')).toEqual({ position: at('300', 1), entries: [] });
      await expect(s.write(write('shard-1', 'a', at('600'), [entry('k1', 'x')]))).rejects.toBeInstanceOf(
        StateFencedError,
      );
      // a new claim gets the empty snapshot (not "none"), and writes again from the reset position on
      expect(await s.claim('shard-1', 'b')).toEqual({ position: at('300', 1), entries: [] });
      await s.write(write('shard-1', 'b', at('300', 0), [entry('stale', 'x')]));
      await s.write(write('shard-1', 'b', at('400'), [entry('k3', '3')]));
      expect(contents(await s.read('shard-1'))).toEqual({ k3: hex('3') });

      await s.reset('shard-1', undefined);
      expect(await s.claim('shard-1', 'c')).toEqual({ position: undefined, entries: [] });
      await s.write(write('shard-1', 'c', at('1'), [entry('k4', '4')]));
      const read = await s.read('shard-1');
      expect(read?.position).toEqual(at('1'));
      expect(contents(read)).toEqual({ k4: hex('4') });

      // a shard never seen before
      await s.reset('shard-new', undefined);
      expect(await s.read('shard-new')).toEqual({ position: undefined, entries: [] });
    });

    it('keeps shards apart', async () => {
      const s = await fresh();
      await s.claim('shard-1', 'a1');
      await s.claim('shard-2', 'a2');
      await s.write(write('shard-1', 'a1', at('10'), [entry('same-key', 'one')]));
      await s.write(write('shard-2', 'a2', at('5'), [entry('same-key', 'two'), entry('other', 'x')]));
      await expect(s.write(write('shard-2', 'a1', at('20'), []))).rejects.toBeInstanceOf(StateFencedError);
      await s.reset('shard-2', at('1'));
      const one = await s.read('shard-1');
      expect(one?.position).toEqual(at('10'));
      expect(contents(one)).toEqual({ 'same-key': hex('one') });
      expect(await s.read('shard-2')).toEqual({ position: at('1'), entries: [] });
      await s.write(write('shard-1', 'a1', at('11'), [], ['same-key']));
      expect(await s.read('shard-3')).toBeUndefined();
    });

    it('keeps values as bytes (every byte value, empty values) and keys as text', async () => {
      const s = await fresh();
      const every = Uint8Array.from({ length: 256 }, (_, i) => i);
      const keys = ['op\x1fvalue\x1fdevice-1', 'ümlaut · 計', 'with:colons:and spaces', ''];
      await s.claim('shard-1', 'a');
      await s.write(
        write('shard-1', 'a', at('1'), [
          entry(keys[0]!, every),
          entry(keys[1]!, new Uint8Array([0x00, 0xff, 0x00])),
          entry(keys[2]!, new Uint8Array(0)),
          entry(keys[3]!, new Uint8Array([0xff])),
        ]),
      );
      const claimed = await s.claim('shard-1', 'b');
      expect(contents(claimed)).toEqual({
        [keys[0]!]: Buffer.from(every).toString('hex'),
        [keys[1]!]: '00ff00',
        [keys[2]!]: '',
        [keys[3]!]: 'ff',
      });
      for (const e of claimed!.entries) expect(e.value).toBeInstanceOf(Uint8Array);
    });

    it('gives out copies: changing a returned array changes nothing stored', async () => {
      // A store may keep the bytes it is given (a caller never changes what it wrote: see
      // StateStore.write), but what it gives out is the reader's to change.
      const s = await fresh();
      await s.claim('shard-1', 'a');
      await s.write(write('shard-1', 'a', at('1'), [{ key: 'k', value: new Uint8Array([1, 2, 3]) }]));
      const first = await s.read('shard-1');
      expect(contents(first)).toEqual({ k: '010203' });
      (first!.entries[0]!.value as Uint8Array)[1] = 9;
      expect(contents(await s.read('shard-1'))).toEqual({ k: '010203' });
      const claimed = await s.claim('shard-1', 'b');
      (claimed!.entries[0]!.value as Uint8Array)[0] = 9;
      expect(contents(await s.read('shard-1'))).toEqual({ k: '010203' });
    });

    it('round-trips a snapshot of 100,000 entries, to a claim and to a read', async () => {
      const s = await fresh();
      const n = 100_000;
      const valueAt = (i: number) => {
        const v = Buffer.alloc(100, i % 251);
        v.writeUInt32LE(i, 0);
        return v;
      };
      const upserts = Array.from({ length: n }, (_, i) => ({
        key: `device-${i}\x1fstate`,
        value: valueAt(i),
      }));
      await s.claim('big', 'a');
      await s.write(write('big', 'a', at('1000'), upserts));
      // and a second snapshot changing a tenth of them
      const changed = upserts
        .filter((_, i) => i % 10 === 0)
        .map((e) => ({ key: e.key, value: Buffer.from('changed') }));
      await s.write(write('big', 'a', at('1001'), changed, ['device-1\x1fstate']));
      for (const snapshot of [await s.claim('big', 'b'), await s.read('big')]) {
        expect(snapshot?.position).toEqual(at('1001'));
        expect(snapshot?.entries).toHaveLength(n - 1);
        const byKey = new Map(snapshot!.entries.map((e) => [e.key, Buffer.from(e.value)]));
        for (let i = 0; i < n; i++) {
          const got = byKey.get(`device-${i}\x1fstate`);
          const want = i === 1 ? undefined : i % 10 === 0 ? Buffer.from('changed') : valueAt(i);
          if (want === undefined ? got !== undefined : !want.equals(got ?? Buffer.alloc(0)))
            expect.fail(`entry ${i}: ${got?.toString('hex')} instead of ${want?.toString('hex')}`);
        }
      }
    });

    it('publishes entries and watermarks with the snapshot: every shard’s, read back by group and shard', async () => {
      const s = await fresh();
      await s.claim('shard-1', 'a1');
      await s.claim('shard-2', 'a2');
      // nothing published yet: nothing read, no watermarks
      expect(await publishedText(s, ['g1'])).toEqual({});
      expect(await s.publishedWatermarks('node')).toEqual([]);
      await s.write(
        write('shard-1', 'a1', at('10'), [entry('k', '1')], [], {
          upserts: [pub('g1', 'one from 1'), pub('g2', 'two from 1')],
          watermarks: [{ node: 'node', watermark: 500, activeAt: 1_000 }],
        }),
      );
      await s.write(
        write('shard-2', 'a2', at('7'), [], [], {
          upserts: [pub('g1', 'one from 2')],
          watermarks: [{ node: 'node', watermark: Number.NEGATIVE_INFINITY, activeAt: 900 }],
        }),
      );
      expect(await publishedText(s, ['g1', 'g2', 'never'])).toEqual({
        g1: { 'shard-1': 'one from 1', 'shard-2': 'one from 2' },
        g2: { 'shard-1': 'two from 1' },
      });
      for (const byShard of (await s.readPublished(['g1'])).values())
        for (const bytes of byShard.values()) expect(bytes).toBeInstanceOf(Uint8Array);
      expect(await watermarksOf(s, 'node')).toEqual({
        'shard-1': [500, 1_000],
        'shard-2': [Number.NEGATIVE_INFINITY, 900],
      });
      expect(await s.publishedWatermarks('other-node')).toEqual([]);
      // with the snapshot itself
      expect(contents(await s.read('shard-1'))).toEqual({ k: hex('1') });
      // the same position is written again
      await s.write(
        write('shard-1', 'a1', at('10'), [], [], {
          upserts: [pub('g1', 'again from 1')],
          watermarks: [{ node: 'node', watermark: 600, activeAt: 1_100 }],
        }),
      );
      expect((await publishedText(s, ['g1'])).g1).toEqual({
        'shard-1': 'again from 1',
        'shard-2': 'one from 2',
      });
      expect((await watermarksOf(s, 'node'))['shard-1']).toEqual([600, 1_100]);
    });

    it('deletes a shard’s published entries, leaving the other shards’ (a group both upserted and deleted is deleted)', async () => {
      const s = await fresh();
      await s.claim('shard-1', 'a1');
      await s.claim('shard-2', 'a2');
      await s.write(write('shard-1', 'a1', at('1'), [], [], { upserts: [pub('g', '1'), pub('h', '1')] }));
      await s.write(write('shard-2', 'a2', at('1'), [], [], { upserts: [pub('g', '2')] }));
      await s.write(
        write('shard-1', 'a1', at('2'), [], [], { upserts: [pub('h', 'x')], deletes: ['g', 'h'] }),
      );
      expect(await publishedText(s, ['g', 'h'])).toEqual({ g: { 'shard-2': '2' } });
      await s.write(write('shard-2', 'a2', at('2'), [], [], { deletes: ['g'] }));
      expect(await publishedText(s, ['g', 'h'])).toEqual({});
    });

    it('publishes nothing from a refused write (an earlier owner’s) or one below the stored position', async () => {
      const a = await fresh();
      const b = await fresh(true);
      await a.claim('shard-1', 'owner-a');
      const first = { upserts: [pub('g', 'first')], watermarks: [{ node: 'n', watermark: 1, activeAt: 1 }] };
      await a.write(write('shard-1', 'owner-a', at('100'), [], [], first));
      await b.claim('shard-1', 'owner-b');
      const late = {
        upserts: [pub('g', 'late'), pub('h', 'late')],
        watermarks: [{ node: 'n', watermark: 9, activeAt: 9 }],
      };
      await expect(a.write(write('shard-1', 'owner-a', at('200'), [], [], late))).rejects.toBeInstanceOf(
        StateFencedError,
      );
      await expect(
        a.write(write('shard-1', 'owner-a', at('200'), [], [], { deletes: ['g'] })),
      ).rejects.toBeInstanceOf(StateFencedError);
      await b.write(write('shard-1', 'owner-b', at('99'), [], [], late));
      await b.write(write('shard-1', 'owner-b', at('99'), [], [], { deletes: ['g'] }));
      expect(await publishedText(b, ['g', 'h'])).toEqual({ g: { 'shard-1': 'first' } });
      expect(await watermarksOf(b, 'n')).toEqual({ 'shard-1': [1, 1] });
      expect((await b.read('shard-1'))?.position).toEqual(at('100'));
    });

    it('drops a reset shard’s watermarks and keeps its published entries', async () => {
      const s = await fresh();
      await s.claim('shard-1', 'a1');
      await s.claim('shard-2', 'a2');
      const marks = (w: number) => [
        { node: 'n1', watermark: w, activeAt: w },
        { node: 'n2', watermark: w, activeAt: w },
      ];
      await s.write(
        write('shard-1', 'a1', at('5'), [], [], { upserts: [pub('g', '1')], watermarks: marks(1) }),
      );
      await s.write(write('shard-2', 'a2', at('5'), [], [], { watermarks: marks(2) }));
      await s.reset('shard-1', at('3'));
      expect(await watermarksOf(s, 'n1')).toEqual({ 'shard-2': [2, 2] });
      expect(await watermarksOf(s, 'n2')).toEqual({ 'shard-2': [2, 2] });
      expect(await publishedText(s, ['g'])).toEqual({ g: { 'shard-1': '1' } });
      // the next owner publishes again
      await s.claim('shard-1', 'b1');
      await s.write(write('shard-1', 'b1', at('4'), [], [], { watermarks: marks(3).slice(0, 1) }));
      expect(await watermarksOf(s, 'n1')).toEqual({ 'shard-1': [3, 3], 'shard-2': [2, 2] });
    });

    it('expires a published group ttlMs after its last upsert', async () => {
      const s = await fresh();
      await s.claim('shard-1', 'a');
      const short = { group: 'g', value: new TextEncoder().encode('soon gone'), ttlMs: 150 };
      await s.write(write('shard-1', 'a', at('1'), [], [], { upserts: [short, pub('kept', 'x')] }));
      expect(await publishedText(s, ['g'])).toEqual({ g: { 'shard-1': 'soon gone' } });
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect(await publishedText(s, ['g', 'kept'])).toEqual({ kept: { 'shard-1': 'x' } });
    });

    // only a store that can lose its state runs this (Redis); the embedded one never loses it under a
    // running worker, so there is nothing to empty
    const empty = options.empty;
    if (empty !== undefined)
      it('throws StateLostError from every call, published state’s too, once its state is emptied', async () => {
        const s = await fresh();
        await s.claim('shard-1', 'a');
        await s.write(
          write('shard-1', 'a', at('1'), [], [], {
            upserts: [pub('g', '1')],
            watermarks: [{ node: 'n', watermark: 1, activeAt: 1 }],
          }),
        );
        await empty();
        const calls = [
          () => s.claim('shard-1', 'b'),
          () => s.read('shard-1'),
          () => s.write(write('shard-1', 'a', at('2'), [], [], { upserts: [pub('g', '2')] })),
          () => s.reset('shard-1', undefined),
          () => s.readPublished(['g']),
          () => s.readPublished([]),
          () => s.publishedWatermarks('n'),
        ];
        for (const call of calls) await expect(call()).rejects.toBeInstanceOf(StateLostError);
      });
  });
}
