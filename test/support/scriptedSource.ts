/**
 * Failure scripting for tests of keyed state on the runtime: a source of shards whose records know
 * their positions (as Kinesis records do, through the source's `positionOf`), whose checkpoints a test
 * may hang (the worker died between a snapshot and its checkpoint); a state store that hangs from a
 * given moment on (the worker died, also in the middle of a snapshot write); a sink that keeps what it
 * got until its worker dies; and a wait on the runtime's microtasks.
 */
import {
  AsyncQueue,
  comparePositions,
  flushMicrotasks,
  type Position,
  type ShardHandle,
  type ShardLineage,
  type Sink,
  type SnapshotWrite,
  type Source,
  type SourceBatch,
  type SourceContext,
  type StateStore,
} from '../../topology/index.ts';

/** Waits until `condition` holds, letting the runtime's promises run in between. */
export async function until(condition: () => boolean, rounds = 20_000): Promise<void> {
  for (let round = 0; round < rounds; round++) {
    if (condition()) return;
    await flushMicrotasks(2);
  }
  throw new Error(`condition never held: ${condition}`);
}

/** How a scripted shard opens: its id, the checkpoint it resumes after, its parents. */
export interface ScriptedShardOptions {
  readonly shardId: string;
  readonly startPosition?: Position;
  readonly lineage?: ShardLineage;
}

/** One shard of a scripted source: the test pushes its batches and sees its checkpoints. */
export class ScriptedShard<T> {
  readonly shardId: string;
  readonly batches = new AsyncQueue<SourceBatch<T>>();
  /** Checkpoints the runtime handed to the shard, in order. */
  readonly checkpoints: Position[] = [];
  /** The final position the shard was released at, once it was. */
  released: Position | undefined;
  /** Batches pushed so far. */
  pushed = 0;
  /** Called with each checkpoint before it is recorded; may hang (the worker died). */
  onCheckpoint: ((position: Position) => Promise<void>) | undefined;

  constructor(
    readonly options: ScriptedShardOptions,
    private readonly positionOf: (record: T) => Position,
  ) {
    this.shardId = options.shardId;
  }

  /** Sends records as batches of `size`, each at the position of its last record. */
  send(records: readonly T[], size: number): void {
    for (let i = 0; i < records.length; i += size) {
      const batch = records.slice(i, i + size);
      this.batches.push({ records: batch, position: this.positionOf(batch[batch.length - 1]!) });
      this.pushed++;
    }
  }

  /** The shard ends (its records are all read, or its lease was lost). */
  end(): void {
    this.batches.end();
  }
}

/** A source of scripted shards whose records know their positions, as Kinesis records do. */
export class ScriptedSource<T> implements Source<T> {
  readonly type = 'scripted';
  private readonly handles = new AsyncQueue<ShardHandle<T>>();
  /** Every shard opened, in order. */
  readonly opened: ScriptedShard<T>[] = [];

  constructor(readonly positionOf: (record: T) => Position) {}

  /** Assigns a shard to the worker. */
  open(options: ScriptedShardOptions): ScriptedShard<T> {
    const shard = new ScriptedShard(options, this.positionOf);
    this.opened.push(shard);
    this.handles.push({
      shardId: options.shardId,
      ...(options.startPosition ? { startPosition: options.startPosition } : {}),
      ...(options.lineage ? { lineage: options.lineage } : {}),
      batches: shard.batches,
      checkpoint: async (position) => {
        await shard.onCheckpoint?.(position);
        shard.checkpoints.push(position);
      },
      release: async (position) => {
        shard.released = position;
      },
    });
    return shard;
  }

  shards(ctx: SourceContext): AsyncIterable<ShardHandle<T>> {
    ctx.signal.addEventListener('abort', () => this.handles.abort(), { once: true });
    return this.handles;
  }

  /** No more shards come (the runtime ends once the open ones have). */
  end(): void {
    this.handles.end();
  }
}

/** A state store whose calls hang from `crash()` on: the worker using it died. */
export class CrashableStore implements StateStore {
  readonly kind: string;
  private dead = false;
  /** When set, the next write hangs halfway: it never reaches the store, and the worker is dead. */
  crashOnWrite = false;

  constructor(private readonly inner: StateStore) {
    this.kind = inner.kind;
  }

  /** Whether the worker died. */
  get crashed(): boolean {
    return this.dead;
  }

  crash(): void {
    this.dead = true;
  }

  /**
   * The worker dies when `shard` is about to checkpoint at or past `at`: after the snapshot of that
   * position was written, before the checkpoint (which never completes).
   */
  crashAtCheckpoint<T>(shard: ScriptedShard<T>, at: Position): void {
    shard.onCheckpoint = async (p) => {
      if (comparePositions(p, at) < 0) return;
      this.crash();
      return new Promise<void>(() => {});
    };
  }

  private async guard<T>(call: () => Promise<T>): Promise<T> {
    if (this.dead) return new Promise<T>(() => {});
    return call();
  }

  open = () => this.guard(() => this.inner.open());
  claim = (shardId: string, owner: string) => this.guard(() => this.inner.claim(shardId, owner));
  read = (shardId: string) => this.guard(() => this.inner.read(shardId));
  reset = (shardId: string, position: Position | undefined) =>
    this.guard(() => this.inner.reset(shardId, position));
  readPublished = (groups: readonly string[]) => this.guard(() => this.inner.readPublished(groups));
  publishedWatermarks = (node: string) => this.guard(() => this.inner.publishedWatermarks(node));
  close = () => (this.dead ? Promise.resolve() : this.inner.close());
  write = (snapshot: SnapshotWrite) => {
    if (this.crashOnWrite) this.crash();
    return this.guard(() => this.inner.write(snapshot));
  };
}

/** A sink that keeps what it got until its worker dies (then its writes hang). */
export function keepingSink<T>(into: T[], alive: () => boolean = () => true): Sink<T> {
  return {
    type: 'kept',
    write: async (batch) => {
      if (!alive()) return new Promise<void>(() => {});
      into.push(...batch);
    },
  };
}
