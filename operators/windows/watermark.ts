/**
 * The global watermark: the least watermark of the shards that are not idle, over every worker. It
 * counts the shards this worker holds with the watermark they reached in memory, and the other
 * workers' shards with the watermark they published with their last state snapshot
 * (`PublishedState.watermarks`, read again on each tick). A shard whose last batch is older than
 * `idleTimeoutMs` stops holding back; when every shard is idle the global watermark is the highest of
 * theirs. It never goes back.
 *
 * Why both: a window that spans shards is merged from this worker's shards' partials in memory and
 * the other shards' published partials (`sharedWindows.ts`). A published partial and a published
 * watermark are of the same records, as are a partial and a watermark in memory; so once the global
 * watermark passes a window's end, every part it is merged from is complete (records arriving later
 * are late, and the shard they reach emits the window again).
 */
import type { PublishedState, ShardWatermark } from '../../topology/index.ts';
import type { WindowAggregateConfig } from './config.ts';

interface ShardMark {
  watermark: number;
  activeAt: number;
}

/** The operator's view of the global watermark. */
export class GlobalWatermark {
  private highest = Number.NEGATIVE_INFINITY;
  private readonly local = new Map<string, ShardMark>();
  private remote: readonly ShardWatermark[] = [];
  private reading: Promise<void> | undefined;

  constructor(private readonly config: Pick<WindowAggregateConfig, 'idleTimeoutMs'>) {}

  /** A shard of this worker reached `watermark` with a batch at processing time `now`. */
  observe(shardId: string, watermark: number, now: number): void {
    const mark = this.local.get(shardId);
    if (mark === undefined) this.local.set(shardId, { watermark, activeAt: now });
    else {
      mark.watermark = Math.max(mark.watermark, watermark);
      mark.activeAt = now;
    }
  }

  /** A shard this worker no longer holds: from now on it counts as published. */
  forget(shardId: string): void {
    this.local.delete(shardId);
  }

  /** The watermark a shard of this worker reached (`-Infinity` for one it does not hold). */
  watermarkOf(shardId: string): number {
    return this.local.get(shardId)?.watermark ?? Number.NEGATIVE_INFINITY;
  }

  /** Whether a shard counts with its state in memory (this worker holds it). */
  isLocal(shardId: string): boolean {
    return this.local.has(shardId);
  }

  /** Whether other workers' shards published watermarks at the last reading. */
  get hasRemote(): boolean {
    return this.remote.some((w) => !this.local.has(w.shardId));
  }

  /** Reads the published watermarks again (one read at a time). */
  refresh(published: PublishedState | undefined): Promise<void> {
    if (published === undefined) return Promise.resolve();
    this.reading ??= published
      .watermarks()
      .then((marks) => {
        this.remote = marks;
      })
      .finally(() => {
        this.reading = undefined;
      });
    return this.reading;
  }

  /** The global watermark at processing time `now`. */
  current(now: number): number {
    const idle = this.config.idleTimeoutMs;
    let least = Number.POSITIVE_INFINITY;
    let highest = Number.NEGATIVE_INFINITY;
    const count = (m: { readonly watermark: number; readonly activeAt: number }) => {
      if (m.watermark > highest) highest = m.watermark;
      if (now - m.activeAt < idle && m.watermark < least) least = m.watermark;
    };
    for (const m of this.local.values()) count(m);
    for (const m of this.remote) if (!this.local.has(m.shardId)) count(m);
    const global = least === Number.POSITIVE_INFINITY ? highest : least;
    if (global > this.highest) this.highest = global;
    return this.highest;
  }
}
