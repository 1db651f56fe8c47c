/**
 * Parent/child order between shards after a split or merge (KCL's "block on parent shards"): a
 * child is read only once each of its parents has been read to its end and released, so records
 * of one partition key are processed in order across a reshard. A parent Kinesis no longer lists
 * (trimmed by retention) does not block.
 */
import type { Shard } from '@aws-sdk/client-kinesis';
import { parentShardIdsOf } from './shardDetector.ts';

type Status = 'waiting' | 'open' | 'finished';

interface Entry {
  readonly shard: Shard;
  readonly parents: readonly string[];
  status: Status;
}

/** Which of a stream's known shards may be read now. */
export class ShardLineage {
  private readonly entries = new Map<string, Entry>();

  /** `finished`: shards already read to their end (by an earlier run of the same source). */
  constructor(private readonly finished: ReadonlySet<string> = new Set()) {}

  /** Adds shards not yet known; known ones keep their status. */
  add(shards: Iterable<Shard>): void {
    for (const shard of shards) {
      const id = shard.ShardId;
      if (id === undefined || this.entries.has(id)) continue;
      const parents = parentShardIdsOf(shard);
      this.entries.set(id, { shard, parents, status: this.finished.has(id) ? 'finished' : 'waiting' });
    }
  }

  /** Whether a shard has a parent in the list (then it starts at its beginning, after the parent). */
  hasKnownParent(shardId: string): boolean {
    return (this.entries.get(shardId)?.parents ?? []).some((p) => this.entries.has(p));
  }

  /** Waiting shards whose parents are all finished or unknown; they are marked open. */
  takeReady(): Shard[] {
    const ready: Shard[] = [];
    for (const entry of this.entries.values()) {
      if (entry.status !== 'waiting') continue;
      const blocked = entry.parents.some((p) => {
        const parent = this.entries.get(p);
        return parent !== undefined && parent.status !== 'finished';
      });
      if (blocked) continue;
      entry.status = 'open';
      ready.push(entry.shard);
    }
    return ready;
  }

  /** Records that a shard was read to its end and everything of it released. */
  markFinished(shardId: string): void {
    const entry = this.entries.get(shardId);
    if (entry !== undefined) entry.status = 'finished';
  }
}
