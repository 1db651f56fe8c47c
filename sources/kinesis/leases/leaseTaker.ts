/**
 * Decides which leases a worker takes, as KCL's `DynamoDBLeaseTaker` does, from a scan of the table:
 *
 * - a lease is expired when it has no owner, or when its `leaseCounter` has not moved for the
 *   failover time as *this* worker observed it (clocks of different workers are never compared);
 * - live workers are the owners of unexpired leases, plus this one;
 * - the target is ⌈leases / live workers⌉; a worker below target takes expired leases up to it, and
 *   when none are expired steals one lease from the most loaded worker, if that worker is above target.
 *
 * Leases whose shard is finished (SHARD_END) take no part.
 */
import { isShardEnd, type Lease } from './lease.ts';

interface Observation {
  counter: number;
  changedAt: number;
}

/** What to take in one round: expired leases, or one lease to steal. */
export interface TakePlan {
  readonly expired: readonly Lease[];
  readonly steal: Lease | undefined;
  readonly target: number;
  readonly liveWorkers: number;
}

/** Keeps the observations of lease counters between scans, and plans takes. */
export class LeaseTaker {
  private readonly observed = new Map<string, Observation>();

  constructor(
    readonly workerId: string,
    private readonly failoverTimeMs: number,
    private readonly random: () => number = Math.random,
  ) {}

  /** Records a scan made at `now`: a counter that moved resets that lease's expiry clock. */
  observe(leases: readonly Lease[], now: number): void {
    const seen = new Set<string>();
    for (const lease of leases) {
      seen.add(lease.leaseKey);
      const previous = this.observed.get(lease.leaseKey);
      if (previous === undefined || previous.counter !== lease.leaseCounter) {
        this.observed.set(lease.leaseKey, { counter: lease.leaseCounter, changedAt: now });
      }
    }
    for (const key of this.observed.keys()) if (!seen.has(key)) this.observed.delete(key);
  }

  /** True when the lease may be taken without stealing. */
  isExpired(lease: Lease, now: number): boolean {
    if (lease.leaseOwner === undefined) return true;
    const seen = this.observed.get(lease.leaseKey);
    return seen !== undefined && now - seen.changedAt > this.failoverTimeMs;
  }

  /** Plans one round from the last scan. */
  plan(leases: readonly Lease[], now: number): TakePlan {
    const active = leases.filter((l) => !isShardEnd(l));
    const expired: Lease[] = [];
    const held = new Map<string, Lease[]>([[this.workerId, []]]);
    for (const lease of active) {
      if (this.isExpired(lease, now)) {
        expired.push(lease);
        continue;
      }
      const owner = lease.leaseOwner!;
      held.set(owner, [...(held.get(owner) ?? []), lease]);
    }
    const liveWorkers = held.size;
    const target = Math.ceil(active.length / liveWorkers);
    const mine = held.get(this.workerId)!.length;
    const needed = target - mine;
    if (needed <= 0) return { expired: [], steal: undefined, target, liveWorkers };
    if (expired.length > 0) {
      return { expired: this.shuffle(expired).slice(0, needed), steal: undefined, target, liveWorkers };
    }
    let mostLoaded: Lease[] = [];
    for (const [owner, owned] of held)
      if (owner !== this.workerId && owned.length > mostLoaded.length) mostLoaded = owned;
    const steal = mostLoaded.length > target ? this.shuffle(mostLoaded)[0] : undefined;
    return { expired: [], steal, target, liveWorkers };
  }

  private shuffle<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(this.random() * (i + 1));
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  }
}
