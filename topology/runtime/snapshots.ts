/**
 * Snapshots of one shard's keyed state (the Flink model: state and source position saved together).
 *
 * - **Restore.** When the shard opens, its state is claimed from the store (fencing out the previous
 *   owner) and put back into the operators' `NodeState`s; the shard's snapshot position says which
 *   records its state already holds. A shard with no snapshot takes over, from each parent's snapshot,
 *   the keys whose hash falls in its range. A shard that resumes after a checkpoint but has no
 *   snapshot lost its state: `StateLostError`, never a silent start from nothing.
 * - **Barriers.** The runtime picks a source batch at most every snapshot interval as a barrier; each
 *   stateful operator captures its changed entries right after that batch (and the timers it fired)
 *   in its lane, so every capture holds exactly the records up to the barrier's position. A quiet
 *   shard (no batch in flight) whose last barrier is older than the interval gets one at its last
 *   position (`quietBarrier`): what its last batches and its timers changed is not held back until
 *   more records come.
 * - **Writes.** A barrier's captures are written, as one atomic snapshot at its position, once the
 *   barrier batch has left the pipeline, the timer firings before the captures have delivered their
 *   outputs, and every sink has made the position durable: a restored shard never lacks the outputs
 *   of state it holds. The shard's checkpoint never passes its last written snapshot.
 * - **Published state.** What the captures publish (`nodeState.ts`) goes in the same write, merged
 *   like the entries: the last change of each group, the last watermark of each node.
 */
import type { Clock } from '../clock.ts';
import type { ShardLineage } from '../components.ts';
import { hashKeyOf, inHashRange } from '../hashKey.ts';
import {
  type PublishedEntry,
  type PublishedWrite,
  type StateEntry,
  StateLostError,
  type StateStore,
} from '../keyedState.ts';
import type { Logger } from '../logger.ts';
import { comparePositions, maxPosition, type Position } from '../records.ts';
import { noStateFigures, type StateFigures } from './metrics.ts';
import { type Capture, type NodeState, parseEntryId } from './nodeState.ts';

/** The checkpoint coordinator's name for the state of a shard, next to its sinks. */
export const STATE_DURABILITY = '#state';

function positionKey(position: Position): string {
  return `${position.sequenceNumber}/${position.subSequenceNumber}`;
}

interface Barrier {
  readonly position: Position;
  readonly parts: Map<string, Capture>;
  readonly waits: Promise<unknown>[];
}

interface ReadyCapture {
  readonly position: Position;
  readonly parts: readonly Capture[];
  /** Settles once the outputs of what the capture holds have left the pipeline. */
  readonly ready: Promise<unknown>;
}

/**
 * The parts of one capture as one write. Each names an entry, a published group and a watermark's
 * node at most once (an operator's capture does, and its ids and groups begin with its name), so
 * nothing needs merging.
 */
function joined(parts: readonly Capture[]): Capture {
  if (parts.length === 1) return parts[0]!;
  const upserts = parts.flatMap((p) => p.upserts);
  const deletes = parts.flatMap((p) => p.deletes);
  const publishing = parts.flatMap((p) => (p.published === undefined ? [] : [p.published]));
  if (publishing.length === 0) return { upserts, deletes };
  const published: PublishedWrite = {
    upserts: publishing.flatMap((p) => p.upserts),
    deletes: publishing.flatMap((p) => p.deletes),
    watermarks: publishing.flatMap((p) => p.watermarks),
  };
  return { upserts, deletes, published };
}

/** Several captures' published parts as one: the last change of each group, the last watermark of each node. */
function mergedPublished(parts: readonly Capture[]): PublishedWrite | undefined {
  const last = new Map<string, PublishedEntry | null>();
  const watermarks = new Map<string, PublishedWrite['watermarks'][number]>();
  for (const { published } of parts) {
    if (published === undefined) continue;
    for (const group of published.deletes) last.set(group, null);
    for (const entry of published.upserts) last.set(entry.group, entry);
    for (const watermark of published.watermarks) watermarks.set(watermark.node, watermark);
  }
  if (last.size === 0 && watermarks.size === 0) return undefined;
  const upserts: PublishedEntry[] = [];
  const deletes: string[] = [];
  for (const [group, entry] of last) {
    if (entry === null) deletes.push(group);
    else upserts.push(entry);
  }
  return { upserts, deletes, watermarks: [...watermarks.values()] };
}

/** Several captures as one write: the last change of each entry (and of each published group). */
function merged(captures: readonly ReadyCapture[]): Capture {
  const last = new Map<string, Uint8Array | null>();
  for (const capture of captures) {
    for (const part of capture.parts) {
      for (const id of part.deletes) last.set(id, null);
      for (const entry of part.upserts) last.set(entry.key, entry.value);
    }
  }
  const upserts: StateEntry[] = [];
  const deletes: string[] = [];
  for (const [key, value] of last) {
    if (value === null) deletes.push(key);
    else upserts.push({ key, value });
  }
  const published = mergedPublished(captures.flatMap((c) => c.parts));
  return published === undefined ? { upserts, deletes } : { upserts, deletes, published };
}

/** The keyed state of one shard: restore, barriers, captures and snapshot writes. */
export class ShardSnapshots {
  /** The position the restored state holds the records up to (none for a fresh shard). */
  restoredAt: Position | undefined;
  readonly figures: StateFigures = noStateFigures();
  private readonly owner = crypto.randomUUID();
  private lastBarrierAt = Number.NEGATIVE_INFINITY;
  /** The position of the last source batch admitted since the shard opened. */
  private lastAdmitted: Position | undefined;
  private readonly barriers = new Map<string, Barrier>();
  private readonly queue: ReadyCapture[] = [];

  constructor(
    private readonly store: StateStore,
    private readonly shardId: string,
    private readonly nodes: ReadonlyMap<string, NodeState>,
    private readonly clock: Clock,
    private readonly intervalMs: number,
    private readonly log: Logger,
  ) {}

  /**
   * Claims the shard's state and puts it back into the operators. `startPosition` is the checkpoint
   * the shard resumes after, if any.
   */
  async restore(startPosition: Position | undefined, lineage: ShardLineage | undefined): Promise<void> {
    const started = performance.now();
    try {
      await this.load(startPosition, lineage);
    } finally {
      this.figures.restoreMs = performance.now() - started;
    }
  }

  private async load(startPosition: Position | undefined, lineage: ShardLineage | undefined): Promise<void> {
    const snapshot = await this.store.claim(this.shardId, this.owner);
    if (snapshot !== undefined && startPosition !== undefined) {
      // a checkpoint never passes a snapshot: a snapshot behind it was reset by a replay whose lease
      // move did not happen
      if (snapshot.position === undefined || comparePositions(snapshot.position, startPosition) < 0)
        throw new StateLostError(
          `the keyed state of shard ${this.shardId} is at ${snapshot.position?.sequenceNumber ?? 'the stream start'}, ` +
            `behind its checkpoint ${startPosition.sequenceNumber} (a replay reset the state but did not move the ` +
            'checkpoint?): run the replay again',
        );
    }
    if (snapshot !== undefined) {
      this.put(snapshot.entries, false, () => true);
      this.restoredAt = snapshot.position;
      this.log.info(
        { shardId: this.shardId, position: snapshot.position, entries: snapshot.entries.length },
        'keyed state restored',
      );
      return;
    }
    const parents = lineage?.parentShardIds ?? [];
    if (parents.length === 0) {
      if (startPosition !== undefined)
        throw new StateLostError(
          `shard ${this.shardId} resumes after checkpoint ${startPosition.sequenceNumber} but the state store ` +
            `(${this.store.kind}) holds no snapshot of it: its keyed state was lost (or the topology gained ` +
            'stateful operators since): replay the shard from a savepoint, which resets its state',
        );
      return;
    }
    const range = lineage!.hashKeyRange;
    let taken = 0;
    for (const parent of parents) {
      const stored = await this.store.read(parent);
      if (stored === undefined) continue;
      // state of the parent as a whole (key '') stays with the parent
      taken += this.put(stored.entries, true, (key) => key !== '' && inHashRange(hashKeyOf(key), range));
      // but every child gets a copy of its published fields: which shared aggregates it must finish
      taken += this.inherit(stored.entries, parent);
    }
    this.log.info(
      { shardId: this.shardId, parents, entries: taken },
      'keyed state taken over from parent shards',
    );
  }

  /** Puts the entries `take` accepts (by key) back into the operators; returns how many. */
  private put(entries: readonly StateEntry[], dirty: boolean, take: (key: string) => boolean): number {
    let taken = 0;
    const unknown = new Set<string>();
    for (const entry of entries) {
      const parts = parseEntryId(entry.key);
      if (!take(parts[2]!)) continue;
      const node = this.nodes.get(parts[0]!);
      if (node?.restore(parts, entry.value, dirty)) taken++;
      else unknown.add(`${parts[0]}.${parts[1]}`);
    }
    if (unknown.size > 0)
      this.log.warn(
        { shardId: this.shardId, states: [...unknown] },
        'keyed state of operators or states this topology no longer declares was not restored',
      );
    this.figures.restoredEntries += taken;
    return taken;
  }

  /** Puts a parent's published fields (key `''`) back under `inheritedKey(parent)`; returns how many. */
  private inherit(entries: readonly StateEntry[], parent: string): number {
    let taken = 0;
    for (const entry of entries) {
      const parts = parseEntryId(entry.key);
      if (parts[2] !== '' || parts[3] === undefined) continue;
      if (this.nodes.get(parts[0]!)?.inherit(parts, entry.value, parent)) taken++;
    }
    this.figures.restoredEntries += taken;
    return taken;
  }

  /** Whether a batch at `position` holds records the restored state already has (it is skipped). */
  holds(position: Position): boolean {
    return this.restoredAt !== undefined && comparePositions(position, this.restoredAt) <= 0;
  }

  /**
   * Called for each source batch before it enters the pipeline: makes it a barrier when one is due,
   * and then returns what to call with the batch's delivery (its captures wait for it).
   */
  admit(position: Position): ((delivery: Promise<void>) => void) | undefined {
    this.lastAdmitted = position;
    const now = this.clock.now();
    if (this.intervalMs > 0 && now - this.lastBarrierAt < this.intervalMs) return undefined;
    this.lastBarrierAt = now;
    let delivering!: (delivery: Promise<void>) => void;
    const delivered = new Promise<void>((resolve) => {
      delivering = resolve;
    });
    this.barriers.set(positionKey(position), { position, parts: new Map(), waits: [delivered] });
    return delivering;
  }

  /**
   * Called for a shard with no batch in flight: when its last barrier is older than the interval and
   * something changed since (its batches after that barrier, its timers), makes the last position it
   * reached a barrier and returns it; each stateful operator then captures in its lane (`capture`).
   * Without it a shard whose records stop after a batch that was no barrier would keep that batch's
   * changes out of its snapshots, its checkpoint and what it publishes (its watermark, the partials
   * other workers merge) until more records come.
   */
  quietBarrier(): Position | undefined {
    const at =
      this.lastAdmitted === undefined
        ? this.restoredAt
        : this.restoredAt === undefined
          ? this.lastAdmitted
          : maxPosition(this.restoredAt, this.lastAdmitted);
    const now = this.clock.now();
    if (at === undefined || now - this.lastBarrierAt < this.intervalMs) return undefined;
    if (this.barriers.has(positionKey(at)) || ![...this.nodes.values()].some((n) => n.changed))
      return undefined;
    this.lastBarrierAt = now;
    this.barriers.set(positionKey(at), { position: at, parts: new Map(), waits: [] });
    return at;
  }

  /** Whether the batch at `position` is a barrier (its stateful operators capture after it). */
  isBarrier(position: Position): boolean {
    return this.barriers.has(positionKey(position));
  }

  /**
   * A stateful operator finished the barrier batch at `position` (in its lane): captures its changes.
   * `timerDeliveries` are the shard's timer firings still delivering their outputs.
   */
  capture(node: string, position: Position, timerDeliveries: readonly Promise<unknown>[]): void {
    const key = positionKey(position);
    const barrier = this.barriers.get(key);
    if (barrier === undefined) return;
    barrier.parts.set(node, this.nodes.get(node)!.capture());
    barrier.waits.push(...timerDeliveries);
    if (barrier.parts.size < this.nodes.size) return;
    this.barriers.delete(key);
    this.enqueue(position, [...barrier.parts.values()], Promise.all(barrier.waits));
  }

  /**
   * The shard drained (every batch and timer delivery is through): captures what changed since the
   * last barrier, at the last position the shard reached.
   */
  captureFinal(position: Position | undefined): void {
    const at = position ?? this.restoredAt;
    if (at === undefined) return;
    if (![...this.nodes.values()].some((n) => n.changed)) return;
    this.enqueue(
      at,
      [...this.nodes.values()].map((n) => n.capture()),
      Promise.resolve(),
    );
  }

  private enqueue(position: Position, parts: readonly Capture[], ready: Promise<unknown>): void {
    ready.catch(() => {}); // a failed delivery fails the shard; its capture is never written
    this.queue.push({ position, parts, ready });
  }

  /**
   * Writes, as one snapshot, the captures whose position every sink has made durable (`safe`), once
   * their outputs are through; returns the snapshot's position, or `undefined` when nothing was due.
   */
  async writeDue(safe: Position | undefined): Promise<Position | undefined> {
    if (safe === undefined) return undefined;
    let count = 0;
    while (count < this.queue.length && comparePositions(this.queue[count]!.position, safe) <= 0) count++;
    if (count === 0) return undefined;
    const due = this.queue.slice(0, count);
    // the sinks have the batches; the timer firings before the captures may still be delivering
    await Promise.all(due.map((c) => c.ready));
    const { upserts, deletes, published } = due.length === 1 ? joined(due[0]!.parts) : merged(due);
    const position = due[due.length - 1]!.position;
    const receipt = await this.store.write({
      shardId: this.shardId,
      owner: this.owner,
      position,
      upserts,
      deletes,
      ...(published === undefined ? {} : { published }),
    });
    this.queue.splice(0, count);
    this.figures.snapshots++;
    this.figures.bytes += receipt.bytes;
    this.figures.roundTrips += receipt.roundTrips;
    this.figures.entries += upserts.length + deletes.length;
    return position;
  }
}
