/**
 * A bounded LRU cache with a time to live per entry, on a Map and an intrusive doubly linked list:
 * a hit costs one Map lookup and a few pointer moves, nothing allocated. Time is passed in by the
 * caller (read once per batch from the injected clock).
 */

interface Entry<V> {
  readonly key: string;
  value: V;
  expiresAt: number;
  prev: Entry<V> | undefined;
  next: Entry<V> | undefined;
}

/** Bounded least-recently-used cache whose entries expire. */
export class LruTtlCache<V> {
  private readonly entries = new Map<string, Entry<V>>();
  // head: most recently used; tail: the next to evict
  private head: Entry<V> | undefined;
  private tail: Entry<V> | undefined;
  /** Entries evicted for room so far. */
  evictions = 0;

  constructor(private readonly capacity: number) {}

  /** Number of entries (expired ones included until touched or evicted). */
  get size(): number {
    return this.entries.size;
  }

  /** The fresh value of `key`, marking it most recently used; undefined when absent or expired. */
  get(key: string, now: number): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= now) {
      this.remove(entry);
      return undefined;
    }
    if (entry !== this.head) {
      this.unlink(entry);
      this.pushFront(entry);
    }
    return entry.value;
  }

  /** Stores `value` until `expiresAt`, evicting the least recently used entries beyond capacity. */
  set(key: string, value: V, expiresAt: number): void {
    const existing = this.entries.get(key);
    if (existing !== undefined) {
      existing.value = value;
      existing.expiresAt = expiresAt;
      this.unlink(existing);
      this.pushFront(existing);
      return;
    }
    const entry: Entry<V> = { key, value, expiresAt, prev: undefined, next: undefined };
    this.entries.set(key, entry);
    this.pushFront(entry);
    while (this.entries.size > this.capacity && this.tail !== undefined) {
      this.remove(this.tail);
      this.evictions++;
    }
  }

  /** Drops `key`; returns whether it was cached. */
  delete(key: string): boolean {
    const entry = this.entries.get(key);
    if (entry === undefined) return false;
    this.remove(entry);
    return true;
  }

  /** Drops everything. */
  clear(): void {
    this.entries.clear();
    this.head = undefined;
    this.tail = undefined;
  }

  private remove(entry: Entry<V>): void {
    this.entries.delete(entry.key);
    this.unlink(entry);
  }

  private unlink(entry: Entry<V>): void {
    if (entry.prev) entry.prev.next = entry.next;
    else if (this.head === entry) this.head = entry.next;
    if (entry.next) entry.next.prev = entry.prev;
    else if (this.tail === entry) this.tail = entry.prev;
    entry.prev = undefined;
    entry.next = undefined;
  }

  private pushFront(entry: Entry<V>): void {
    entry.next = this.head;
    if (this.head) this.head.prev = entry;
    this.head = entry;
    this.tail ??= entry;
  }
}
