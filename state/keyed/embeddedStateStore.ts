/**
 * The keyed state store of the embedded demo: the Redis store's semantics (the conformance suite runs
 * both) in a map per shard. A write is atomic because it runs synchronously. It keeps the bytes it is
 * given (callers never change bytes they wrote: `StateStore.write`), which share the buffers a capture
 * encoded them into, and copies what it gives out, so no reader can change stored bytes. Its state lives and dies with the process, and with it
 * the worker: it never loses state under a running worker, so it never throws `StateLostError`.
 *
 * Published entries expire as Redis's do, per group: `ttlMs` after the group's last upsert by any
 * shard, checked lazily against `clock` when the group is read.
 */
import {
  type Clock,
  comparePositions,
  type Position,
  type PublishedWrite,
  type ShardWatermark,
  type SnapshotReceipt,
  type SnapshotWrite,
  StateFencedError,
  type StateStore,
  type StoredSnapshot,
  systemClock,
} from '../../topology/index.ts';

interface ShardState {
  /** The token of the last claim; none before the first and after a reset. */
  owner?: string;
  /** None until the first write or reset. */
  snapshot?: { position: Position | undefined; entries: Map<string, Uint8Array> };
}

/** One published group: each shard's bytes, until `expiresAt` (clock time). */
interface PublishedGroup {
  readonly byShard: Map<string, Uint8Array>;
  expiresAt: number;
}

/** Every shard's published entries and watermarks. */
class Published {
  private readonly groups = new Map<string, PublishedGroup>();
  /** node → shard id → watermark. */
  private readonly watermarks = new Map<string, Map<string, ShardWatermark>>();

  constructor(private readonly clock: Clock) {}

  apply(shardId: string, write: PublishedWrite): void {
    const now = this.clock.now();
    for (const { group, value, ttlMs } of write.upserts) {
      const stored = this.live(group) ?? { byShard: new Map<string, Uint8Array>(), expiresAt: 0 };
      stored.byShard.set(shardId, value);
      stored.expiresAt = now + ttlMs;
      this.groups.set(group, stored);
    }
    for (const group of write.deletes) {
      const stored = this.live(group);
      stored?.byShard.delete(shardId);
      if (stored?.byShard.size === 0) this.groups.delete(group);
    }
    for (const { node, watermark, activeAt } of write.watermarks) {
      const byShard = this.watermarks.get(node) ?? new Map<string, ShardWatermark>();
      byShard.set(shardId, { shardId, watermark, activeAt });
      this.watermarks.set(node, byShard);
    }
  }

  /** The group, unless it expired (then it goes). */
  private live(group: string): PublishedGroup | undefined {
    const stored = this.groups.get(group);
    if (stored === undefined || stored.expiresAt > this.clock.now()) return stored;
    this.groups.delete(group);
    return undefined;
  }

  read(groups: readonly string[]): Map<string, Map<string, Uint8Array>> {
    const read = new Map<string, Map<string, Uint8Array>>();
    for (const group of groups) {
      const stored = this.live(group);
      if (stored === undefined) continue;
      read.set(group, new Map(Array.from(stored.byShard, ([shardId, v]) => [shardId, new Uint8Array(v)])));
    }
    return read;
  }

  watermarksOf(node: string): ShardWatermark[] {
    return [...(this.watermarks.get(node)?.values() ?? [])];
  }

  /** A reset shard's watermarks go; its entries stay until it writes them again or they expire. */
  reset(shardId: string): void {
    for (const byShard of this.watermarks.values()) byShard.delete(shardId);
  }
}

/** An in-process keyed state store; `clock` expires published entries. */
export function embeddedStateStore(clock: Clock = systemClock): StateStore {
  const shards = new Map<string, ShardState>();
  const published = new Published(clock);
  const shard = (shardId: string): ShardState => {
    const state = shards.get(shardId) ?? {};
    shards.set(shardId, state);
    return state;
  };
  const copyOut = (state: ShardState | undefined): StoredSnapshot | undefined => {
    const snapshot = state?.snapshot;
    if (snapshot === undefined) return undefined;
    return {
      position: snapshot.position,
      entries: Array.from(snapshot.entries, ([key, value]) => ({ key, value: new Uint8Array(value) })),
    };
  };

  return {
    kind: 'embedded',
    open: async () => {},
    claim: async function claimEmbedded(shardId, owner) {
      if (owner === '') throw new Error('a claim needs an owner token');
      const state = shard(shardId);
      state.owner = owner;
      return copyOut(state);
    },
    read: async function readEmbedded(shardId) {
      return copyOut(shards.get(shardId));
    },
    write: async function writeEmbedded(write: SnapshotWrite): Promise<SnapshotReceipt> {
      const state = shards.get(write.shardId);
      if (state?.owner !== write.owner)
        throw new StateFencedError(`shard ${write.shardId} is claimed by another worker (or was reset)`);
      let bytes = 0;
      for (const { key, value } of write.upserts) bytes += Buffer.byteLength(key) + value.length;
      for (const key of write.deletes) bytes += Buffer.byteLength(key);
      for (const { group, value } of write.published?.upserts ?? [])
        bytes += Buffer.byteLength(group) + value.length;
      const stored = state.snapshot?.position;
      if (stored !== undefined && comparePositions(write.position, stored) < 0)
        return { bytes, roundTrips: 0 };
      const snapshot = state.snapshot ?? { position: undefined, entries: new Map<string, Uint8Array>() };
      state.snapshot = snapshot;
      // upserts before deletes, as in the Redis store: a key in both is deleted
      for (const { key, value } of write.upserts) snapshot.entries.set(key, value);
      for (const key of write.deletes) snapshot.entries.delete(key);
      snapshot.position = { ...write.position };
      if (write.published !== undefined) published.apply(write.shardId, write.published);
      return { bytes, roundTrips: 0 };
    },
    reset: async function resetEmbedded(shardId, position) {
      shards.set(shardId, { snapshot: { position: position && { ...position }, entries: new Map() } });
      published.reset(shardId);
    },
    readPublished: async function readPublishedEmbedded(groups) {
      return published.read(groups);
    },
    publishedWatermarks: async function publishedWatermarksEmbedded(node) {
      return published.watermarksOf(node);
    },
    close: async () => {},
  };
}
