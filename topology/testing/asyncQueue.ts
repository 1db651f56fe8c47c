/**
 * An unbounded in-memory queue read as an async iterable; reading ends when the queue is ended
 * and empty, or at once after `abort()` (what is left is never read). Used by the in-memory source.
 */
export class AsyncQueue<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private ended = false;
  private aborted = false;
  private wake: (() => void) | undefined;
  /** Items taken by readers so far. */
  taken = 0;

  push(item: T): void {
    if (this.ended) throw new Error('queue has ended');
    this.items.push(item);
    this.notify();
  }

  end(): void {
    this.ended = true;
    this.notify();
  }

  /** Stops readers at once, leaving queued items unread. */
  abort(): void {
    this.aborted = true;
    this.notify();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      if (this.aborted) return;
      if (this.items.length > 0) {
        this.taken++;
        yield this.items.shift()!;
        continue;
      }
      if (this.ended) return;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }
}
