/**
 * Holds this worker's leases: renews them on a fixed interval, takes more on another (expired
 * first, else steals one), and serialises every write to one lease (renewal, checkpoint, release)
 * so that the worker never fences itself out. A lease whose write loses its condition, or that
 * could not be renewed within the failover time, is lost: the listener stops its shard at once.
 */
import { type Clock, errorMessage, Lane, type Logger } from '../../../topology/index.ts';
import type { Lease, LeaseCheckpoint } from './lease.ts';
import { LeaseLostError, type LeaseRefresher } from './leaseRefresher.ts';
import { LeaseTaker } from './leaseTaker.ts';

/** Timing of lease management. */
export interface LeaseTiming {
  /** A lease not renewed for this long may be taken by another worker. */
  readonly failoverTimeMs: number;
  readonly renewIntervalMs: number;
  readonly takeIntervalMs: number;
}

/** Told when leases are acquired and lost. */
export interface LeaseListener {
  acquired(lease: Lease): void;
  lost(leaseKey: string, reason: string): void;
}

interface Held {
  lease: Lease;
  readonly lane: Lane;
  renewedAt: number;
}

/** This worker's leases and the loops that keep them. */
export class LeaseCoordinator {
  private readonly held = new Map<string, Held>();
  private readonly taker: LeaseTaker;
  private taking = true;

  constructor(
    private readonly refresher: LeaseRefresher,
    readonly workerId: string,
    private readonly timing: LeaseTiming,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly listener: LeaseListener,
  ) {
    this.taker = new LeaseTaker(workerId, timing.failoverTimeMs);
  }

  /** Leases held now. */
  get leaseCount(): number {
    return this.held.size;
  }

  /**
   * True while the lease is held and was renewed within the failover time. After a long pause (GC,
   * SIGSTOP, a frozen host) another worker may own it already even though no write has failed yet:
   * nothing of the shard is processed until a renewal proves it is still ours.
   */
  holdsFresh(leaseKey: string): boolean {
    const held = this.held.get(leaseKey);
    if (held === undefined) return false;
    if (this.clock.now() - held.renewedAt <= this.timing.failoverTimeMs) return true;
    this.lose(leaseKey, 'not renewed within the failover time');
    return false;
  }

  /** The held lease of a shard, if any. */
  lease(leaseKey: string): Lease | undefined {
    return this.held.get(leaseKey)?.lease;
  }

  /** Runs the renew loop until `signal` aborts. */
  async renewLoop(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await this.renewAll();
      await this.clock.sleep(this.timing.renewIntervalMs, signal).catch(() => {});
    }
  }

  /** Runs the take loop until taking stops or `signal` aborts. */
  async takeLoop(signal: AbortSignal): Promise<void> {
    while (!signal.aborted && this.taking) {
      await this.takeOnce().catch((error) =>
        this.log.warn({ error: errorMessage(error) }, 'lease taking failed'),
      );
      await this.clock.sleep(this.timing.takeIntervalMs, signal).catch(() => {});
    }
  }

  /** Takes no more leases (shutdown); held ones are kept until released. */
  stopTaking(): void {
    this.taking = false;
  }

  /** One scan of the table and one round of taking. */
  async takeOnce(): Promise<Lease[]> {
    const leases = await this.refresher.listLeases();
    const now = this.clock.now();
    this.taker.observe(leases, now);
    if (!this.taking) return [];
    const plan = this.taker.plan(leases, now);
    const candidates = plan.steal ? [plan.steal] : plan.expired;
    const taken: Lease[] = [];
    for (const candidate of candidates) {
      if (this.held.has(candidate.leaseKey)) continue;
      try {
        // fresh from when the take was sent (see `write`)
        const sentAt = this.clock.now();
        const lease = await this.refresher.takeLease(candidate, this.workerId);
        this.held.set(lease.leaseKey, { lease, lane: new Lane(), renewedAt: sentAt });
        taken.push(lease);
        this.log.info(
          { shardId: lease.leaseKey, from: candidate.leaseOwner, stolen: plan.steal !== undefined },
          'lease taken',
        );
        this.listener.acquired(lease);
      } catch (error) {
        if (!(error instanceof LeaseLostError)) throw error; // someone else was faster: fine
      }
    }
    return taken;
  }

  private async renewAll(): Promise<void> {
    await Promise.all(
      [...this.held.keys()].map((key) =>
        this.write(key, 'renew', (lease) => this.refresher.renewLease(lease)).catch(() => {}),
      ),
    );
    const now = this.clock.now();
    for (const [key, held] of this.held) {
      if (now - held.renewedAt > this.timing.failoverTimeMs)
        this.lose(key, 'not renewed within the failover time');
    }
  }

  /** Runs one write to a held lease after the previous one, keeping the newest counter. */
  private write(leaseKey: string, action: string, update: (lease: Lease) => Promise<Lease>): Promise<Lease> {
    const held = this.held.get(leaseKey);
    if (held === undefined)
      return Promise.reject(new LeaseLostError(leaseKey, `${action} of a lease not held`));
    const queuedAt = this.clock.now();
    return held.lane.run(async () => {
      if (this.held.get(leaseKey) !== held)
        throw new LeaseLostError(leaseKey, `${action} after the lease was lost`);
      const startedAt = this.clock.now();
      try {
        held.lease = await update(held.lease);
        // Fresh from when the write was sent, not from when its answer came: other workers count
        // the failover time from when they see the counter move, which is after the write was
        // sent. An answer read late (a pause of this process after DynamoDB wrote) must not make a
        // lease fresh that another worker may have taken meanwhile.
        held.renewedAt = startedAt;
        const answeredAt = this.clock.now();
        // A lease is lost after the failover time without a renewal: say so well before that.
        if (answeredAt - queuedAt > this.timing.failoverTimeMs / 3)
          this.log.warn(
            {
              shardId: leaseKey,
              action,
              queuedMs: startedAt - queuedAt,
              writeMs: answeredAt - startedAt,
            },
            'slow lease write',
          );
        return held.lease;
      } catch (error) {
        if (error instanceof LeaseLostError) this.lose(leaseKey, error.message);
        else this.log.warn({ shardId: leaseKey, action, error: errorMessage(error) }, 'lease write failed');
        throw error;
      }
    });
  }

  private lose(leaseKey: string, reason: string): void {
    if (!this.held.delete(leaseKey)) return;
    this.log.warn({ shardId: leaseKey, reason }, 'lease lost');
    this.listener.lost(leaseKey, reason);
  }

  /** Writes a checkpoint, fenced; throws {@link LeaseLostError} if the lease is no longer ours. */
  checkpoint(
    leaseKey: string,
    checkpoint: LeaseCheckpoint,
    childShardIds?: readonly string[],
  ): Promise<Lease> {
    return this.write(leaseKey, 'checkpoint', (lease) =>
      this.refresher.updateCheckpoint(lease, checkpoint, childShardIds),
    );
  }

  /** Gives a lease back so another worker takes it at once (graceful handoff, shard end). */
  async release(leaseKey: string): Promise<void> {
    try {
      await this.write(leaseKey, 'release', (lease) => this.refresher.evictLease(lease));
    } catch {
      // lost already: nothing to give back
    }
    this.held.delete(leaseKey);
  }
}
