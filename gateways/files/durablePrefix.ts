/**
 * The longest prefix of a file's records that is durable: what the progress may record as done. The
 * ingest resolves a key's records in order, but a file's records can have several keys (one per
 * device, from the key finder), so a later record can be durable before an earlier one; the prefix
 * only moves over records that are all durable.
 */

/** A point in a file the gateway can resume from. */
export interface ResumePoint {
  /** Byte offset where the next record starts (or the line end before it). */
  readonly offset: number;
  /** Line ends before `offset`. */
  readonly line: number;
  /** Records before `offset`. */
  readonly records: number;
}

interface Pending {
  readonly end: number;
  readonly endLine: number;
  durable: boolean;
}

/** Tracks records in file order as they are offered and become durable. */
export class DurablePrefix {
  private pending: Pending[] = [];
  /** Index in `pending` of the oldest record not yet durable. */
  private head = 0;
  /** Ticket of `pending[0]`. */
  private base = 0;
  private next = 0;
  private point: ResumePoint;
  private settled = 0;
  private failure: Error | undefined;
  private waiters: (() => void)[] = [];

  constructor(start: ResumePoint) {
    this.point = start;
  }

  /** The resume point after the durable prefix. */
  get committed(): ResumePoint {
    return this.point;
  }

  /** Records offered and not yet settled (durable or failed). */
  get outstanding(): number {
    return this.next - this.settled;
  }

  /** The first failure of a record, if any (the prefix stops before it for good). */
  get failed(): Error | undefined {
    return this.failure;
  }

  /** Registers the next record (in file order); returns its ticket. */
  add(end: number, endLine: number): number {
    this.pending.push({ end, endLine, durable: false });
    return this.next++;
  }

  /** The record of `ticket` is durable. */
  durable(ticket: number): void {
    const entry = this.pending[ticket - this.base];
    if (entry === undefined || entry.durable) return;
    entry.durable = true;
    this.settled++;
    if (this.failure === undefined) this.advance();
    this.wake();
  }

  /** The record of `ticket` will never be durable (the ingest closed). */
  fail(ticket: number, error: Error): void {
    if (this.pending[ticket - this.base] === undefined) return;
    this.failure ??= error;
    this.settled++;
    this.wake();
  }

  /** Resolves once every record added so far is settled. */
  whenSettled(): Promise<void> {
    if (this.outstanding === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private advance(): void {
    let { offset, line, records } = this.point;
    let moved = false;
    while (this.head < this.pending.length && this.pending[this.head]!.durable) {
      const entry = this.pending[this.head++]!;
      offset = entry.end;
      line = entry.endLine;
      records++;
      moved = true;
    }
    if (moved) this.point = { offset, line, records };
    // Drop the durable prefix now and then, not on every record (no O(n^2) shifting).
    if (this.head > 1024 && this.head * 2 > this.pending.length) {
      this.pending = this.pending.slice(this.head);
      this.base += this.head;
      this.head = 0;
    }
  }

  private wake(): void {
    if (this.outstanding > 0 || this.waiters.length === 0) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}
