/**
 * Keyed state: what an operator keeps per shard, in the worker's memory for the shards it holds, and
 * the contract of the store its snapshots go to (`state/`: Redis in production, embedded for the
 * demo; one conformance suite, `test/support/keyedStoreConformance.ts`).
 *
 * An operator declares its states (`Operator.state`) and reaches them through `ctx.state` in
 * `process`, `onTimer` and `openShard`. Every value belongs to a *key*: the Kinesis partition key of
 * the records it was computed from (or `''` for state of the shard as a whole). On a split or merge
 * each key's values go to the child shard whose hash range holds the key's MD5, as its records do;
 * state of the shard as a whole stays with the shard it was written on, except that each child gets
 * a copy of its parents' published fields under the key `inheritedKey(parent)` (never published:
 * what the parent published stays published under its id; the copy tells the child which of the
 * parent's aggregates it must help finish). Timers of a stateful
 * operator are keyed the same way and are part of its state.
 *
 * The runtime snapshots the keys changed since the last snapshot, with the shard's position, at each
 * checkpoint (see `topology/README.md`, Keyed state).
 */
import type { Position } from './records.ts';

/** How a state's values become bytes and back. JSON by default. */
export interface StateCodec<T> {
  encode(value: T): Uint8Array;
  decode(bytes: Uint8Array): T;
}

/** A named state of an operator: one value per key, or a map of fields per key. */
export interface StateDescriptor<T = unknown> {
  /** Unique among the operator's states; letters, digits, `-` and `_`. */
  readonly name: string;
  readonly kind: 'value' | 'map';
  /** Defaults to JSON (`jsonCodec`). */
  readonly codec?: StateCodec<T>;
  /**
   * Map state only: its entries under the shard's own key `''` are also *published* with every
   * snapshot, atomically with it, where every shard's operator of the same node can read them
   * (`PublishedState.read`): the shard's partials of aggregates whose key spans shards. A published
   * entry expires `ttlMs` after its last write (a shard that ended leaves its entries behind).
   */
  readonly publish?: { readonly ttlMs: number };
}

/**
 * The key under which a child shard holds a copy of a parent's published map state fields (see the
 * file comment). Not a partition key (they have no NUL); it is no shard's own key, so never published.
 */
export function inheritedKey(parentShardId: string): string {
  return `\u0000${parentShardId}`;
}

/** One value per key. */
export interface ValueState<T> {
  get(key: string): T | undefined;
  /** Values are copied into the snapshot when it is taken: a value changed in place must be set again. */
  set(key: string, value: T): void;
  delete(key: string): void;
  /** The keys that hold a value, in no particular order. */
  keys(): IterableIterator<string>;
}

/** A map of fields per key. */
export interface MapState<T> {
  get(key: string, field: string): T | undefined;
  /** As for `ValueState.set`: set again what was changed in place. */
  set(key: string, field: string, value: T): void;
  delete(key: string, field: string): void;
  /** Deletes every field of the key. */
  clear(key: string): void;
  entries(key: string): IterableIterator<[string, T]>;
  /** The keys that hold at least one field. */
  keys(): IterableIterator<string>;
}

/** A shard's published watermark of one node (the node's `TimerService.watermark` at its last snapshot). */
export interface ShardWatermark {
  readonly shardId: string;
  readonly watermark: number;
  /** Processing time of the last batch the node processed on the shard before that snapshot. */
  readonly activeAt: number;
}

/**
 * What every shard of one node published with its snapshots: durable, each shard's at its snapshot's
 * position (so a shard's published entries and watermark are always of the same records). An operator
 * with published state gets it as `OpenContext.published`.
 */
export interface PublishedState {
  /**
   * For each field of the published map state `state`: every shard's value of it (shard id → value);
   * fields no shard published are left out.
   */
  read<T>(state: string, fields: readonly string[]): Promise<Map<string, Map<string, T>>>;
  /** Every shard's published watermark of this node (shards that never snapshotted are left out). */
  watermarks(): Promise<readonly ShardWatermark[]>;
}

/** An operator's states on one shard, as `ctx.state` gives them. */
export interface KeyedState {
  value<T>(name: string): ValueState<T>;
  map<T>(name: string): MapState<T>;
}

/** JSON, the default codec (values must survive `JSON.stringify`: no `undefined`, `NaN` or `Infinity`). */
export function jsonCodec<T>(): StateCodec<T> {
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  return {
    encode: (value) => encoder.encode(JSON.stringify(value)),
    decode: (bytes) => JSON.parse(decoder.decode(bytes)) as T,
  };
}

// ---------------------------------------------------------------------------------------------
// The store snapshots go to

/** One stored entry: an opaque id (made by the runtime, unique within the shard) and its bytes. */
export interface StateEntry {
  readonly key: string;
  readonly value: Uint8Array;
}

/** A shard's stored state: the position it is at (none after a reset to a stream's start) and its entries. */
export interface StoredSnapshot {
  readonly position: Position | undefined;
  readonly entries: readonly StateEntry[];
}

/** A published entry: a `group` (unique per node, state and field; opaque to the store) and its bytes. */
export interface PublishedEntry {
  readonly group: string;
  readonly value: Uint8Array;
  /** Expires this long after this write. */
  readonly ttlMs: number;
}

/** What a snapshot publishes along (see `StateDescriptor.publish`), under the writing shard's id. */
export interface PublishedWrite {
  readonly upserts: readonly PublishedEntry[];
  /** Groups this shard no longer publishes. */
  readonly deletes: readonly string[];
  readonly watermarks: readonly {
    readonly node: string;
    readonly watermark: number;
    readonly activeAt: number;
  }[];
}

/** One snapshot of one shard: the entries changed since the previous one, at `position`. */
export interface SnapshotWrite {
  readonly shardId: string;
  /** The token `claim` was called with: a write of an earlier owner is refused. */
  readonly owner: string;
  readonly position: Position;
  readonly upserts: readonly StateEntry[];
  /** Entry ids to remove. */
  readonly deletes: readonly string[];
  /** Written in the same atomic step, fenced and ordered like the entries. */
  readonly published?: PublishedWrite;
}

/** What a write cost. */
export interface SnapshotReceipt {
  readonly bytes: number;
  readonly roundTrips: number;
}

/** The state store lost its contents (restarted empty, flushed) or this worker's view of them. */
export class StateLostError extends Error {
  override readonly name = 'StateLostError';
  /** The runtime never retries it: counting on from nothing would be silently wrong. */
  readonly fatal = true;
}

/** Another worker claimed the shard's state since this one did: this worker no longer owns the shard. */
export class StateFencedError extends Error {
  override readonly name = 'StateFencedError';
}

/**
 * Where snapshots of keyed state are kept. Every method throws `StateLostError` when the store no
 * longer holds the state this worker joined at `open` (a Redis restarted empty).
 */
export interface StateStore {
  /** e.g. `redis`, `embedded`: shown in the topology description. */
  readonly kind: string;
  /** Connects and joins (or creates) the store's epoch. */
  open(): Promise<void>;
  /**
   * Takes the shard's state over for `owner` (a token unique to this opening of the shard): from now
   * on writes with any other token are refused with `StateFencedError`. Returns the shard's snapshot,
   * or `undefined` when it has none.
   */
  claim(shardId: string, owner: string): Promise<StoredSnapshot | undefined>;
  /** Reads a shard's snapshot without taking it over (the parents of a shard after a reshard). */
  read(shardId: string): Promise<StoredSnapshot | undefined>;
  /**
   * Writes a snapshot atomically: its entries and position together, or nothing (also when the
   * worker dies during the write). A position below the stored one changes nothing; the same position is
   * written again (what changed after a barrier, captured when the shard drains, has the barrier's).
   * The store may keep the entries' bytes as given: a caller never changes bytes it wrote (a capture
   * encodes into buffers of its own).
   */
  write(snapshot: SnapshotWrite): Promise<SnapshotReceipt>;
  /**
   * Replaces the shard's state by an empty one at `position` (a replay resets a shard's checkpoint
   * there, or to the stream's start with `undefined`: its state is rebuilt from the records after
   * it). Ends every owner's claim. A later `claim` returns the empty snapshot, not `undefined`.
   * The shard's published watermarks go; its published entries stay until it writes them again.
   */
  reset(shardId: string, position: Position | undefined): Promise<void>;
  /** Every shard's published bytes of each group (group → shard id → bytes); unknown groups left out. */
  readPublished(groups: readonly string[]): Promise<Map<string, Map<string, Uint8Array>>>;
  /** Every shard's published watermark of `node`. */
  publishedWatermarks(node: string): Promise<readonly ShardWatermark[]>;
  close(): Promise<void>;
}
