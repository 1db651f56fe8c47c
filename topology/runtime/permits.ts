/**
 * A counting semaphore: the per-shard window of batches in flight. The shard loop takes a permit
 * before it pulls the next batch from the source, so a full window stops the source from fetching.
 */
export class Permits {
  private available: number;
  private readonly waiters: Array<() => void> = [];

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`permit count must be >= 1, got ${size}`);
    this.available = size;
  }

  /** Permits currently taken. */
  get inUse(): number {
    return this.size - this.available;
  }

  /** Whether someone waits for a permit: the window is full and the shard loop is blocked on it. */
  get blocked(): boolean {
    return this.waiters.length > 0;
  }

  /** Resolves once a permit is taken. */
  acquire(): Promise<void> {
    if (this.available > 0) {
      this.available--;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Returns a permit, handing it straight to the oldest waiter if there is one. */
  release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.available++;
  }
}
