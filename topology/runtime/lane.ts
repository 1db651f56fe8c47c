/**
 * A lane runs one node's work for one shard strictly in order, one batch at a time, and counts the
 * batches waiting: that count is the node's queue depth.
 */
export class Lane {
  private tail: Promise<unknown> = Promise.resolve();
  private waiting = 0;

  /** Batches queued or running in this lane. */
  get depth(): number {
    return this.waiting;
  }

  /** Runs `work` after everything queued before it; its result or error goes to the caller only. */
  run<T>(work: () => Promise<T>): Promise<T> {
    this.waiting++;
    const result = this.tail.then(work);
    const done = result.then(
      () => this.waiting--,
      () => this.waiting--,
    );
    this.tail = done;
    return result;
  }
}
