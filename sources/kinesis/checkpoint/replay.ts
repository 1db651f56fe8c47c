/**
 * Replay: moves shards' checkpoints back (or to any position) in the lease table, while workers run.
 * `planReplay` decides, without touching anything, which shards move and where to; `applyReplay`
 * writes the plan with `LeaseRefresher.resetCheckpoint`, which also frees each lease: its holder
 * loses the lease at its next renewal and stops without checkpointing, and whichever worker takes
 * it next reads from the new checkpoint. Records between the new checkpoint and the old one are
 * delivered again, so the sinks must be idempotent.
 */
import { isShardEnd, type Lease, type LeaseCheckpoint } from '../leases/lease.ts';
import { LeaseLostError, type LeaseRefresher } from '../leases/leaseRefresher.ts';
import type { Savepoint } from './savepoints.ts';

/** Where a replay starts. */
export type ReplayFrom =
  /** Every record that arrived at or after `timestamp` (epoch ms). */
  | { readonly type: 'timestamp'; readonly timestamp: number }
  /**
   * The records after `sequenceNumber` in its one shard: a checkpoint means "everything up to
   * here is done", so the record at `sequenceNumber` itself is not delivered again.
   */
  | { readonly type: 'sequence'; readonly sequenceNumber: string }
  /** Each shard's checkpoint as the savepoint recorded it. */
  | { readonly type: 'savepoint'; readonly savepoint: Savepoint };

/** What to replay. */
export interface ReplayRequest {
  readonly from: ReplayFrom;
  /** Only these shards; every shard with a lease when absent. */
  readonly shards?: readonly string[];
}

/** One shard's move. */
export interface ReplayStep {
  readonly shardId: string;
  readonly checkpoint: LeaseCheckpoint;
  /** The start time of an `AT_TIMESTAMP` checkpoint (epoch ms). */
  readonly startTimestamp?: number;
  /** The lease as read when planning; its counter fences the first write. */
  readonly lease: Lease;
  /** Why this checkpoint, when it is not the obvious one. */
  readonly note?: string;
}

/** What a replay will do: the shards it moves and those it leaves alone. */
export interface ReplayPlan {
  readonly steps: readonly ReplayStep[];
  readonly skipped: readonly { readonly shardId: string; readonly reason: string }[];
}

/** A replay request that cannot be planned; the message says what to change. */
export class ReplayPlanError extends Error {
  override readonly name = 'ReplayPlanError';
}

/** A checkpoint in words: `TRIM_HORIZON`, `AT_TIMESTAMP 2024-05-01T10:00:00.000Z`, `4959…:0`. */
export function describeCheckpoint(checkpoint: LeaseCheckpoint, startTimestamp?: number): string {
  if ('position' in checkpoint)
    return `${checkpoint.position.sequenceNumber}:${checkpoint.position.subSequenceNumber}`;
  if (checkpoint.sentinel === 'AT_TIMESTAMP' && startTimestamp !== undefined)
    return `AT_TIMESTAMP ${new Date(startTimestamp).toISOString()}`;
  return checkpoint.sentinel;
}

function selectLeases(leases: readonly Lease[], shards: readonly string[] | undefined): Lease[] {
  const byKey = new Map(leases.map((l) => [l.leaseKey, l]));
  if (shards === undefined) return [...byKey.values()].sort((a, b) => a.leaseKey.localeCompare(b.leaseKey));
  const unknown = shards.filter((s) => !byKey.has(s));
  if (unknown.length > 0)
    throw new ReplayPlanError(
      `unknown shard${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}: the lease table has ${
        [...byKey.keys()].sort().join(', ') || 'no leases'
      }`,
    );
  return [...new Set(shards)].map((s) => byKey.get(s)!);
}

/** Decides which shards a replay moves and to which checkpoint. Reads and writes nothing. */
export function planReplay(leases: readonly Lease[], request: ReplayRequest): ReplayPlan {
  const selected = selectLeases(leases, request.shards);
  const named = request.shards !== undefined;
  const steps: ReplayStep[] = [];
  const skipped: { shardId: string; reason: string }[] = [];
  const { from } = request;

  if (from.type === 'savepoint') {
    const sp = from.savepoint;
    for (const lease of selected) {
      const saved = sp.shards.get(lease.leaseKey);
      if (saved === undefined) {
        // Its lease was created after the savepoint: none of it had been read then.
        steps.push({
          shardId: lease.leaseKey,
          checkpoint: { sentinel: 'TRIM_HORIZON' },
          lease,
          note: `not in savepoint ${sp.name}: a newer shard, read again from its start`,
        });
        continue;
      }
      steps.push({ shardId: lease.leaseKey, ...saved, lease });
    }
    const leased = new Set(leases.map((l) => l.leaseKey));
    for (const shardId of sp.shards.keys()) {
      if (!leased.has(shardId) && (!named || request.shards!.includes(shardId)))
        skipped.push({ shardId, reason: 'in the savepoint but no longer leased (expired from the stream?)' });
    }
    return { steps, skipped };
  }

  if (from.type === 'sequence') {
    if (!/^\d+$/.test(from.sequenceNumber))
      throw new ReplayPlanError(`sequence number "${from.sequenceNumber}" is not a decimal number`);
    if (request.shards === undefined || selected.length !== 1)
      throw new ReplayPlanError(
        'a sequence number belongs to one shard: name exactly that shard with --shards ID',
      );
  }
  for (const lease of selected) {
    if (isShardEnd(lease) && !named) {
      skipped.push({ shardId: lease.leaseKey, reason: 'at SHARD_END (name it in --shards to replay it)' });
      continue;
    }
    steps.push(
      from.type === 'timestamp'
        ? {
            shardId: lease.leaseKey,
            checkpoint: { sentinel: 'AT_TIMESTAMP' },
            startTimestamp: from.timestamp,
            lease,
          }
        : {
            shardId: lease.leaseKey,
            checkpoint: { position: { sequenceNumber: from.sequenceNumber, subSequenceNumber: 0 } },
            lease,
          },
    );
  }
  return { steps, skipped };
}

/** How one step of a replay went. */
export type ReplayOutcome =
  | { readonly shardId: string; readonly applied: true; readonly lease: Lease; readonly attempts: number }
  | { readonly shardId: string; readonly applied: false; readonly error: string };

/**
 * Writes a plan's checkpoints. A shard whose counter moved since it was read (its holder renewed
 * it) is read again and retried, up to `attempts` times; other shards go on when one fails.
 */
export async function applyReplay(
  refresher: LeaseRefresher,
  plan: ReplayPlan,
  attempts = 5,
): Promise<ReplayOutcome[]> {
  const outcomes: ReplayOutcome[] = [];
  for (const step of plan.steps) outcomes.push(await applyStep(refresher, step, attempts));
  return outcomes;
}

async function applyStep(
  refresher: LeaseRefresher,
  step: ReplayStep,
  attempts: number,
): Promise<ReplayOutcome> {
  let lease = step.lease;
  for (let attempt = 1; ; attempt++) {
    try {
      const reset = await refresher.resetCheckpoint(lease, step.checkpoint, step.startTimestamp);
      return { shardId: step.shardId, applied: true, lease: reset, attempts: attempt };
    } catch (error) {
      if (!(error instanceof LeaseLostError)) throw error;
      if (attempt >= attempts)
        return {
          shardId: step.shardId,
          applied: false,
          error: `its lease kept changing (${attempts} attempts)`,
        };
    }
    const current = (await refresher.listLeases()).find((l) => l.leaseKey === step.shardId);
    if (current === undefined) return { shardId: step.shardId, applied: false, error: 'its lease is gone' };
    lease = current;
  }
}
