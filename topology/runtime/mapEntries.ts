/**
 * One map state of one operator on one shard, in memory, and which of its fields changed since the
 * last capture (`nodeState.ts`). A field's value and its change mark live in one object, so marking
 * it changed is a flag and a push rather than a set of fields per key, made anew after every capture
 * for every key that changed. A deleted field stays as a tombstone (no value) until the capture that
 * takes its delete: set again before that, it is the same field, changed once.
 */
import type { MapState } from '../keyedState.ts';

/** A field of a key (its value `undefined` once deleted, until the next capture). */
interface FieldEntry {
  readonly key: string;
  readonly field: string;
  value: unknown;
  /** In `changed`. */
  dirty: boolean;
}

const NO_FIELDS: IterableIterator<FieldEntry> = new Map<string, FieldEntry>().values();

/** A key's fields and values, tombstones left out (a class: a generator costs far more per field). */
class FieldIterator implements IterableIterator<[string, unknown]> {
  constructor(private readonly fields: IterableIterator<FieldEntry>) {}

  next(): IteratorResult<[string, unknown]> {
    for (;;) {
      const next = this.fields.next();
      if (next.done) return { value: undefined, done: true };
      const entry = next.value;
      if (entry.value !== undefined) return { value: [entry.field, entry.value], done: false };
    }
  }

  [Symbol.iterator](): IterableIterator<[string, unknown]> {
    return this;
  }
}

/** A map state's keys, fields and changes since the last capture. */
export class MapEntries {
  private readonly byKey = new Map<string, Map<string, FieldEntry>>();
  /** The fields changed since the last capture, each once. */
  private changed: FieldEntry[] = [];
  /** The handle operators use. */
  readonly handle: MapState<unknown>;

  constructor() {
    this.handle = {
      get: (key, field) => this.byKey.get(key)?.get(field)?.value,
      set: (key, field, value) => this.set(key, field, value, true),
      delete: (key, field) => {
        const entry = this.byKey.get(key)?.get(field);
        if (entry === undefined || entry.value === undefined) return;
        entry.value = undefined;
        this.mark(entry);
      },
      clear: (key) => {
        const fields = this.byKey.get(key);
        if (fields === undefined) return;
        for (const entry of fields.values()) {
          if (entry.value === undefined) continue;
          entry.value = undefined;
          this.mark(entry);
        }
      },
      entries: (key) => this.entries(key),
      keys: () => this.keys(),
    };
  }

  /** Whether a field changed since the last capture. */
  get hasChanges(): boolean {
    return this.changed.length > 0;
  }

  /** Sets a field (restored: `dirty` says whether it counts as changed). */
  set(key: string, field: string, value: unknown, dirty: boolean): void {
    let fields = this.byKey.get(key);
    if (fields === undefined) {
      fields = new Map();
      this.byKey.set(key, fields);
    }
    let entry = fields.get(field);
    if (entry === undefined) {
      entry = { key, field, value, dirty: false };
      fields.set(field, entry);
    }
    entry.value = value;
    if (dirty) this.mark(entry);
  }

  /**
   * Hands each changed field's key, field and value (`undefined`: deleted) to `take`, in the order
   * they first changed, drops the deleted ones, and starts tracking changes anew.
   */
  capture(take: (key: string, field: string, value: unknown) => void): void {
    const changed = this.changed;
    this.changed = [];
    for (const entry of changed) {
      entry.dirty = false;
      take(entry.key, entry.field, entry.value);
      if (entry.value !== undefined) continue;
      const fields = this.byKey.get(entry.key)!;
      fields.delete(entry.field);
      if (fields.size === 0) this.byKey.delete(entry.key);
    }
  }

  private mark(entry: FieldEntry): void {
    if (entry.dirty) return;
    entry.dirty = true;
    this.changed.push(entry);
  }

  private entries(key: string): IterableIterator<[string, unknown]> {
    const fields = this.byKey.get(key);
    return new FieldIterator(fields === undefined ? NO_FIELDS : fields.values());
  }

  private *keys(): IterableIterator<string> {
    for (const [key, fields] of this.byKey) {
      for (const entry of fields.values())
        if (entry.value !== undefined) {
          yield key;
          break;
        }
    }
  }
}
