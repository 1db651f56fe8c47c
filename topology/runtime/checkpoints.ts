/**
 * The checkpoint coordinator of one shard: every sink reports the highest position it has made
 * durable; the shard may be checkpointed at the minimum over all sinks, and only there.
 */
import { comparePositions, maxPosition, type Position } from '../records.ts';

/** Tracks durable positions of one shard across the sinks of its sub-topology. */
export class ShardCheckpoints {
  private readonly durable = new Map<string, Position | undefined>();
  private committed: Position | undefined;

  /** @param start the checkpoint the shard resumes after, if the source said: it is not handed back. */
  constructor(sinks: readonly string[], start?: Position) {
    for (const sink of sinks) this.durable.set(sink, undefined);
    this.committed = start;
  }

  /** A sink made everything up to `position` durable (reports never move a sink backwards). */
  markDurable(sink: string, position: Position): void {
    if (!this.durable.has(sink)) throw new Error(`"${sink}" is not a sink of this shard`);
    this.durable.set(sink, maxPosition(this.durable.get(sink), position));
  }

  /**
   * The minimum over all sinks (but `except`), or `undefined` while any of them has made nothing
   * durable.
   */
  safePosition(except?: string): Position | undefined {
    let min: Position | undefined;
    for (const [sink, position] of this.durable) {
      if (sink === except) continue;
      if (position === undefined) return undefined;
      if (min === undefined || comparePositions(position, min) < 0) min = position;
    }
    return min;
  }

  /** The safe position if it is beyond the last one the source accepted. */
  nextAdvance(): Position | undefined {
    const safe = this.safePosition();
    if (safe === undefined) return undefined;
    if (this.committed !== undefined && comparePositions(safe, this.committed) <= 0) return undefined;
    return safe;
  }

  /** The source accepted a checkpoint at `position`. */
  confirm(position: Position): void {
    this.committed = maxPosition(this.committed, position);
  }

  /** The last position the source accepted. */
  get lastCommitted(): Position | undefined {
    return this.committed;
  }
}
