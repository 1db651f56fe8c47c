/**
 * A bounded LRU cache with a time to live per entry. A hit costs one Map lookup and one counter
 * write on the entry: no list to relink. That matters because with a hundred thousand devices
 * every touched neighbour in a linked list is a cache miss of the CPU, which cost more than the rest
 * of the enrich operator together. Eviction is exact LRU, done in rounds: past capacity, the least
 * recently used tenth is dropped at once (a sort of the use counters, amortised over the inserts
 * that filled it). Time is passed in by the caller (read once per batch from the injected clock).
 */

interface Entry<V> {
  value: V;
  expiresAt: number;
  lastUsed: number;
}

/** Bounded least-recently-used cache whose entries expire. */
export class LruTtlCache<V> {
  private readonly entries = new Map<string, Entry<V>>();
  private tick = 0;
  private readonly keep: number;
  /** Entries evicted for room so far. */
  evictions = 0;

  constructor(private readonly capacity: number) {
    this.keep = Math.max(1, Math.floor(capacity * 0.9));
  }

  /** Number of entries (expired ones included until touched or evicted). */
  get size(): number {
    return this.entries.size;
  }

  /** The fresh value of `key`, marking it most recently used; undefined when absent or expired. */
  get(key: string, now: number): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= now) {
      this.entries.delete(key);
      return undefined;
    }
    entry.lastUsed = ++this.tick;
    return entry.value;
  }

  /** Stores `value` until `expiresAt`, evicting the least recently used entries beyond capacity. */
  set(key: string, value: V, expiresAt: number): void {
    const existing = this.entries.get(key);
    if (existing !== undefined) {
      existing.value = value;
      existing.expiresAt = expiresAt;
      existing.lastUsed = ++this.tick;
      return;
    }
    this.entries.set(key, { value, expiresAt, lastUsed: ++this.tick });
    if (this.entries.size > this.capacity) this.evict();
  }

  /** Drops `key`; returns whether it was cached. */
  delete(key: string): boolean {
    return this.entries.delete(key);
  }

  /** Drops everything. */
  clear(): void {
    this.entries.clear();
  }

  /** Drops the least recently used entries down to 90 % of capacity. */
  private evict(): void {
    const uses = new Float64Array(this.entries.size);
    let i = 0;
    for (const entry of this.entries.values()) uses[i++] = entry.lastUsed;
    uses.sort();
    const cut = uses[this.entries.size - this.keep - 1]!;
    for (const [key, entry] of this.entries) {
      if (entry.lastUsed <= cut) {
        this.entries.delete(key);
        this.evictions++;
      }
    }
  }
}
