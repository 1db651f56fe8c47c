/**
 * The conformance suite every keyed state store runs (`topology/keyedState.ts`, `StateStore`; embedded:
 * a unit test, Redis: an integration test). `make()` returns a fresh, opened store with no state;
 * `make(true)` another worker's store on the state of the previous `make()` (the fencing tests need two).
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  type Position,
  type SnapshotWrite,
  type StateEntry,
  StateFencedError,
  type StateStore,
  type StoredSnapshot,
} from '../../topology/index.ts';

/** Makes a fresh store; with `again`, another worker's store on the same state as the previous call's. */
export type MakeStateStore = (again?: boolean) => Promise<StateStore>;

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
): SnapshotWrite {
  return { shardId, owner, position, upserts, deletes };
}

/** Registers the shared suite for one store. */
export function describeStateStoreConformance(name: string, make: MakeStateStore): void {
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

    it('keeps its own copy of the bytes: changing a written or a returned array changes nothing stored', async () => {
      const s = await fresh();
      const value = new Uint8Array([1, 2, 3]);
      await s.claim('shard-1', 'a');
      await s.write(write('shard-1', 'a', at('1'), [{ key: 'k', value }]));
      value[0] = 9;
      const first = await s.read('shard-1');
      expect(contents(first)).toEqual({ k: '010203' });
      (first!.entries[0]!.value as Uint8Array)[1] = 9;
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
  });
}
