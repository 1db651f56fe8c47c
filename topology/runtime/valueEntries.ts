/**
 * One value state of one operator on one shard, in memory, and which of its keys changed since the
 * last capture (`nodeState.ts`). It is on every record's path (an operator reads a key's value and
 * sets it again), so a key's value, its change mark and its entry id live in one object: setting
 * the key just read finds it without another lookup, marking it changed is a flag and a push rather
 * than a set of keys, and its id is made once, not at every capture.
 */
import type { ValueState } from '../keyedState.ts';

/** A key's value (`undefined` once deleted, until the next capture takes the delete). */
interface ValueEntry {
  readonly key: string;
  value: unknown;
  /** In `changed`. */
  dirty: boolean;
  /** The entry id, once a capture needed it. */
  id: string | undefined;
}

/** A value state's keys, values and changes since the last capture. */
export class ValueEntries {
  private readonly entries = new Map<string, ValueEntry>();
  /** The entries changed since the last capture, each once. */
  private changed: ValueEntry[] = [];
  /** The entry of the last key read or written: an operator mostly sets the key it just read. */
  private last: ValueEntry | undefined;
  /** The handle operators use. */
  readonly handle: ValueState<unknown>;

  /** `idPrefix`: the id of an entry without its key (`["node","state",`). */
  constructor(private readonly idPrefix: string) {
    this.handle = {
      get: (key) => this.entryOf(key)?.value,
      set: (key, value) => this.set(key, value, true),
      delete: (key) => {
        const entry = this.entryOf(key);
        if (entry === undefined || entry.value === undefined) return;
        entry.value = undefined;
        this.mark(entry);
      },
      keys: () => this.keys(),
    };
  }

  /** Whether a key changed since the last capture. */
  get hasChanges(): boolean {
    return this.changed.length > 0;
  }

  /** Sets a key's value (restored: `dirty` says whether it counts as changed). */
  set(key: string, value: unknown, dirty: boolean): void {
    let entry = this.entryOf(key);
    if (entry === undefined) {
      entry = { key, value, dirty: false, id: undefined };
      this.entries.set(key, entry);
      this.last = entry;
    }
    entry.value = value;
    if (dirty) this.mark(entry);
  }

  /**
   * Hands each changed key's id and value (`undefined`: deleted) to `take`, in the order they first
   * changed, and starts tracking changes anew.
   */
  capture(take: (id: string, value: unknown) => void): void {
    const changed = this.changed;
    this.changed = [];
    for (const entry of changed) {
      entry.dirty = false;
      entry.id ??= `${this.idPrefix}${JSON.stringify(entry.key)}]`;
      take(entry.id, entry.value);
      if (entry.value === undefined && this.entries.get(entry.key) === entry) this.entries.delete(entry.key);
    }
    // an entry deleted above may be the last one read
    this.last = undefined;
  }

  private entryOf(key: string): ValueEntry | undefined {
    const last = this.last;
    if (last !== undefined && last.key === key) return last;
    const entry = this.entries.get(key);
    if (entry !== undefined) this.last = entry;
    return entry;
  }

  private mark(entry: ValueEntry): void {
    if (entry.dirty) return;
    entry.dirty = true;
    this.changed.push(entry);
  }

  private *keys(): IterableIterator<string> {
    for (const entry of this.entries.values()) if (entry.value !== undefined) yield entry.key;
  }
}
