/**
 * The timers of one time domain of one node on one shard: at most one per (key, timestamp), taken in
 * timestamp order (registration order among equal timestamps). A binary heap with lazy deletion: a
 * deleted timer stays in the heap until it reaches the top or the heap is compacted.
 */

interface Entry {
  readonly key: string;
  readonly timestamp: number;
  readonly seq: number;
}

function before(a: Entry, b: Entry): boolean {
  return a.timestamp < b.timestamp || (a.timestamp === b.timestamp && a.seq < b.seq);
}

function idOf(key: string, timestamp: number): string {
  // a number's text never holds a space, so the id is unambiguous whatever the key
  return `${timestamp} ${key}`;
}

/** Keyed timers of one time domain, de-duplicated per (key, timestamp). */
export class TimerQueue {
  private heap: Entry[] = [];
  private readonly live = new Map<string, Entry>();
  /** key → its timers' timestamps (for snapshots of keyed state). */
  private readonly byKey = new Map<string, Set<number>>();
  private seq = 0;

  /** Timers registered and not yet taken or deleted. */
  get size(): number {
    return this.live.size;
  }

  /** Registers a timer; registering one that exists already changes nothing (and returns false). */
  add(key: string, timestamp: number): boolean {
    const id = idOf(key, timestamp);
    if (this.live.has(id)) return false;
    const entry: Entry = { key, timestamp, seq: this.seq++ };
    this.live.set(id, entry);
    const stamps = this.byKey.get(key);
    if (stamps === undefined) this.byKey.set(key, new Set([timestamp]));
    else stamps.add(timestamp);
    this.push(entry);
    return true;
  }

  /** Deletes a timer if it is registered (and returns whether it was). */
  delete(key: string, timestamp: number): boolean {
    if (!this.live.delete(idOf(key, timestamp))) return false;
    this.forget(key, timestamp);
    if (this.heap.length > 64 && this.heap.length > 2 * this.live.size) this.compact();
    return true;
  }

  /** The earliest registered timestamp. */
  peek(): number | undefined {
    this.dropDeleted();
    return this.heap[0]?.timestamp;
  }

  /** Removes and returns every timer at or before `time`, in timestamp order. */
  takeDue(time: number): { key: string; timestamp: number }[] {
    const due: { key: string; timestamp: number }[] = [];
    for (;;) {
      this.dropDeleted();
      const top = this.heap[0];
      if (top === undefined || top.timestamp > time) return due;
      this.pop();
      this.live.delete(idOf(top.key, top.timestamp));
      this.forget(top.key, top.timestamp);
      due.push({ key: top.key, timestamp: top.timestamp });
    }
  }

  /** The timestamps of a key's timers, ascending. */
  timestampsOf(key: string): number[] {
    return [...(this.byKey.get(key) ?? [])].sort((a, b) => a - b);
  }

  /** The keys that have timers. */
  keys(): IterableIterator<string> {
    return this.byKey.keys();
  }

  clear(): void {
    this.heap = [];
    this.live.clear();
    this.byKey.clear();
  }

  private forget(key: string, timestamp: number): void {
    const stamps = this.byKey.get(key);
    if (stamps === undefined) return;
    stamps.delete(timestamp);
    if (stamps.size === 0) this.byKey.delete(key);
  }

  private isLive(entry: Entry): boolean {
    return this.live.get(idOf(entry.key, entry.timestamp)) === entry;
  }

  private dropDeleted(): void {
    while (this.heap.length > 0 && !this.isLive(this.heap[0]!)) this.pop();
  }

  private compact(): void {
    this.heap = [...this.live.values()].sort((a, b) => a.timestamp - b.timestamp || a.seq - b.seq);
  }

  private push(entry: Entry): void {
    const heap = this.heap;
    let i = heap.push(entry) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(entry, heap[parent]!)) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = entry;
  }

  private pop(): void {
    const heap = this.heap;
    const last = heap.pop()!;
    if (heap.length === 0) return;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child = right < heap.length && before(heap[right]!, heap[left]!) ? right : left;
      if (!before(heap[child]!, last)) break;
      heap[i] = heap[child]!;
      i = child;
    }
    heap[i] = last;
  }
}
