/**
 * The keyed state store of the embedded demo: the Redis store's semantics (the conformance suite runs
 * both) in a map per shard. A write is atomic because it runs synchronously; values are copied in and
 * out, so no caller can change stored bytes. Its state lives and dies with the process, and with it
 * the worker: it never loses state under a running worker, so it never throws `StateLostError`.
 */
import {
  comparePositions,
  type Position,
  type SnapshotReceipt,
  type SnapshotWrite,
  StateFencedError,
  type StateStore,
  type StoredSnapshot,
} from '../../topology/index.ts';

interface ShardState {
  /** The token of the last claim; none before the first and after a reset. */
  owner?: string;
  /** None until the first write or reset. */
  snapshot?: { position: Position | undefined; entries: Map<string, Uint8Array> };
}

/** An in-process keyed state store. */
export function embeddedStateStore(): StateStore {
  const shards = new Map<string, ShardState>();
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
      const stored = state.snapshot?.position;
      if (stored !== undefined && comparePositions(write.position, stored) < 0)
        return { bytes, roundTrips: 0 };
      const snapshot = state.snapshot ?? { position: undefined, entries: new Map<string, Uint8Array>() };
      state.snapshot = snapshot;
      // upserts before deletes, as in the Redis store: a key in both is deleted
      for (const { key, value } of write.upserts) snapshot.entries.set(key, new Uint8Array(value));
      for (const key of write.deletes) snapshot.entries.delete(key);
      snapshot.position = { ...write.position };
      return { bytes, roundTrips: 0 };
    },
    reset: async function resetEmbedded(shardId, position) {
      shards.set(shardId, { snapshot: { position: position && { ...position }, entries: new Map() } });
    },
    close: async () => {},
  };
}
