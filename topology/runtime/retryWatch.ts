/**
 * Watches the retries of one shard's nodes. A node whose batch keeps failing (a store that is down)
 * stalls the shard on purpose, losing nothing; past the retry age the shard is reported stuck, with a
 * log line every minute naming the shard, the node and the error, and a gauge, so that a stall is
 * never silent. Nothing is ever dropped for being old.
 */
import type { Clock } from '../clock.ts';
import { errorMessage, type Logger } from '../logger.ts';

/** How often a stuck shard is reported again while it stays stuck. */
export const STUCK_REPORT_MS = 60_000;

interface Retrying {
  readonly since: number;
  attempts: number;
  error: unknown;
  reportedAt: number | undefined;
}

/** A node retrying a batch on the shard, as reported in logs, metrics and at shutdown. */
export interface RetryingNode {
  readonly node: string;
  readonly retryingForMs: number;
  readonly attempts: number;
  readonly error: string;
}

/** The retries in progress on one shard. */
export class RetryWatch {
  private readonly nodes = new Map<string, Retrying>();

  constructor(
    private readonly shardId: string,
    private readonly clock: Clock,
    private readonly log: Logger,
    /** After this long retrying one batch, the shard is reported stuck. */
    private readonly maxRetryAgeMs: number,
  ) {}

  /** A batch (or part of one) of `node` failed. */
  failed(node: string, error: unknown): void {
    const now = this.clock.now();
    let entry = this.nodes.get(node);
    if (entry === undefined) {
      entry = { since: now, attempts: 0, error, reportedAt: undefined };
      this.nodes.set(node, entry);
    }
    entry.attempts++;
    entry.error = error;
    const age = now - entry.since;
    if (
      age >= this.maxRetryAgeMs &&
      (entry.reportedAt === undefined || now - entry.reportedAt >= STUCK_REPORT_MS)
    ) {
      entry.reportedAt = now;
      this.log.error(
        {
          shardId: this.shardId,
          node,
          retryingForMs: age,
          attempts: entry.attempts,
          error: errorMessage(error),
        },
        'shard stuck: a batch keeps failing past runtime.maxRetryAgeMs; it is retried and nothing is dropped',
      );
    }
  }

  /** A batch of `node` went through: whatever it was retrying is over. */
  succeeded(node: string): void {
    const entry = this.nodes.get(node);
    if (entry === undefined) return;
    this.nodes.delete(node);
    if (entry.reportedAt !== undefined) {
      this.log.info(
        {
          shardId: this.shardId,
          node,
          retriedForMs: this.clock.now() - entry.since,
          attempts: entry.attempts,
        },
        'shard no longer stuck',
      );
    }
  }

  /** The nodes retrying now, oldest first. */
  retrying(): RetryingNode[] {
    const now = this.clock.now();
    return [...this.nodes]
      .map(([node, e]) => ({
        node,
        retryingForMs: now - e.since,
        attempts: e.attempts,
        error: errorMessage(e.error),
      }))
      .sort((a, b) => b.retryingForMs - a.retryingForMs);
  }

  /** How long the oldest retry on the shard has been going on (0 when none). */
  ageMs(): number {
    return this.retrying()[0]?.retryingForMs ?? 0;
  }

  /** True once a retry on the shard has outlasted the retry age. */
  get stuck(): boolean {
    return this.ageMs() >= this.maxRetryAgeMs;
  }
}
