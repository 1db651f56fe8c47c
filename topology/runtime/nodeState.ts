/**
 * The keyed state of one operator on one shard, in memory: its declared value and map states, and
 * which of their entries (and which keys' timers) changed since the last capture. A capture encodes
 * the changed entries as the store keeps them; a restore decodes them back.
 *
 * An entry's id is the JSON array `[node, state, key]` (value state), `[node, state, key, field]` (map
 * state), `[node, "#timers", key]` (the key's timers: `{"e": [...], "p": [...]}`) or
 * `[node, "#watermark", ""]`. State names cannot begin with `#`, so the ids never collide.
 *
 * A map state declared with `publish` is also published under the shard's own key `''`: each changed
 * field yields a published entry of group `[node, state, field]` with the entry's bytes. A node with
 * published state also publishes its watermark in a capture after it processed a batch.
 */
import type { TimeDomain } from '../components.ts';
import {
  inheritedKey,
  jsonCodec,
  type KeyedState,
  type MapState,
  type PublishedEntry,
  type PublishedWrite,
  type StateCodec,
  type StateDescriptor,
  type StateEntry,
  type ValueState,
} from '../keyedState.ts';
import { MapEntries } from './mapEntries.ts';
import type { NodeTimers } from './timers.ts';
import { ValueEntries } from './valueEntries.ts';

const STATE_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const TIMERS = '#timers';
const WATERMARK = '#watermark';

/** The changed entries of one capture: upserts and deleted ids, and what it publishes (if anything). */
export interface Capture {
  readonly upserts: StateEntry[];
  readonly deletes: string[];
  readonly published?: PublishedWrite;
}

/** The group a field of a published map state is published under. */
export function publishedGroup(node: string, state: string, field: string): string {
  return JSON.stringify([node, state, field]);
}

/**
 * The start of the ids of a state's entries, `["node","state",`: an id is it followed by the key's
 * JSON (and a field's) and `]`, the same text as `JSON.stringify` of the array.
 */
function idPrefix(node: string, state: string): string {
  return `${JSON.stringify([node, state]).slice(0, -1)},`;
}

/** An entry id as its parts: node, state, key and (map state) field. */
export function parseEntryId(id: string): readonly string[] {
  const parts = JSON.parse(id) as unknown;
  if (!Array.isArray(parts) || parts.length < 3 || !parts.every((p) => typeof p === 'string'))
    throw new Error(`not a keyed state entry id: ${id}`);
  return parts as string[];
}

/** Checks an operator's state declarations: names valid and unique. */
function checkDescriptors(node: string, descriptors: readonly StateDescriptor[]): void {
  const seen = new Set<string>();
  for (const d of descriptors) {
    if (!STATE_NAME.test(d.name))
      throw new Error(`node "${node}": state name "${d.name}" must be letters, digits, "-" and "_"`);
    if (seen.has(d.name)) throw new Error(`node "${node}": state "${d.name}" is declared twice`);
    seen.add(d.name);
    if (d.publish === undefined) continue;
    if (d.kind !== 'map')
      throw new Error(
        `node "${node}": state "${d.name}" is a value state: only a map state can be published`,
      );
    if (!Number.isInteger(d.publish.ttlMs) || d.publish.ttlMs <= 0)
      throw new Error(`node "${node}": state "${d.name}": publish.ttlMs must be a positive whole number`);
  }
}

/** The value under `key`, made by `make` and kept on first use. */
function getOrCreate<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let value = map.get(key);
  if (value === undefined) {
    value = make();
    map.set(key, value);
  }
  return value;
}

interface Declared {
  readonly kind: 'value' | 'map';
  readonly codec: StateCodec<unknown>;
  /** No codec declared: JSON, encoded into the capture's slabs. */
  readonly json: boolean;
  /** Published (map state): the expiry of its published entries. */
  readonly ttlMs: number | undefined;
}

/** The size of a slab the encoded entries of a capture share. */
const SLAB_BYTES = 64 * 1024;

/**
 * Text encoded into shared buffers: one allocation per slab instead of an `ArrayBuffer` per entry,
 * which costs far more to allocate and to collect than the few bytes it holds. The entries are views
 * of their slab, which lives as long as they do (a capture lives until it is written).
 */
class TextSlab {
  private bytes = new Uint8Array(0);
  private used = 0;

  encode(text: string): Uint8Array {
    // a UTF-16 code unit takes at most 3 bytes of UTF-8
    const most = text.length * 3;
    if (this.bytes.length - this.used < most) {
      this.bytes = new Uint8Array(Math.max(SLAB_BYTES, most));
      this.used = 0;
    }
    const start = this.used;
    this.used += encoder.encodeInto(text, this.bytes.subarray(start)).written;
    return this.bytes.subarray(start, this.used);
  }
}

const DOMAINS = [
  ['e', 'event-time'],
  ['p', 'processing-time'],
] as const satisfies readonly (readonly [string, TimeDomain])[];

/** One operator's keyed state on one shard. */
export class NodeState implements KeyedState {
  private readonly declared = new Map<string, Declared>();
  /** Value states, with what changed in them. */
  private readonly values = new Map<string, ValueEntries>();
  /** Map states, with what changed in them. */
  private readonly maps = new Map<string, MapEntries>();
  private readonly dirtyTimers = new Set<string>();
  private capturedWatermark = Number.NEGATIVE_INFINITY;
  /** Whether any state is published: then so is the watermark. */
  private readonly publishes: boolean;
  /** The clock's time of the last batch processed since the last capture. */
  private activeAt: number | undefined;
  private readonly handles = new Map<string, ValueState<unknown> | MapState<unknown>>();

  constructor(
    readonly node: string,
    descriptors: readonly StateDescriptor[],
    private readonly timers: NodeTimers,
  ) {
    checkDescriptors(node, descriptors);
    for (const d of descriptors) {
      this.declared.set(d.name, {
        kind: d.kind,
        codec: (d.codec ?? jsonCodec()) as StateCodec<unknown>,
        json: d.codec === undefined,
        ttlMs: d.publish?.ttlMs,
      });
      if (d.kind === 'value') {
        this.values.set(d.name, new ValueEntries(idPrefix(node, d.name)));
      } else {
        this.maps.set(d.name, new MapEntries());
      }
    }
    timers.onChange = (key) => this.dirtyTimers.add(key);
    this.publishes = descriptors.some((d) => d.publish !== undefined);
  }

  /** The node processed a batch of records at `now` (clock time): its next capture publishes its watermark. */
  markActive(now: number): void {
    if (this.publishes) this.activeAt = now;
  }

  value<T>(name: string): ValueState<T> {
    return this.handle(name, 'value', () => this.values.get(name)!.handle) as ValueState<T>;
  }

  map<T>(name: string): MapState<T> {
    return this.handle(name, 'map', () => this.maps.get(name)!.handle) as MapState<T>;
  }

  private handle(
    name: string,
    kind: 'value' | 'map',
    make: () => ValueState<unknown> | MapState<unknown>,
  ): ValueState<unknown> | MapState<unknown> {
    const declared = this.declared.get(name);
    if (declared === undefined) throw new Error(`node "${this.node}" did not declare state "${name}"`);
    if (declared.kind !== kind)
      throw new Error(
        `node "${this.node}": state "${name}" is a ${declared.kind} state, not a ${kind} state`,
      );
    return getOrCreate(this.handles, name, make);
  }

  /** Whether anything changed since the last capture. */
  get changed(): boolean {
    if (this.dirtyTimers.size > 0 || this.timers.currentWatermark !== this.capturedWatermark) return true;
    if (this.activeAt !== undefined) return true;
    for (const entries of this.values.values()) if (entries.hasChanges) return true;
    for (const entries of this.maps.values()) if (entries.hasChanges) return true;
    return false;
  }

  /** Encodes what changed since the last capture, and starts tracking changes anew. */
  capture(): Capture {
    const upserts: StateEntry[] = [];
    const deletes: string[] = [];
    const published: { upserts: PublishedEntry[]; deletes: string[] } = { upserts: [], deletes: [] };
    const slab = new TextSlab();
    // the same bytes as `jsonCodec` gives (which encodes '' for what JSON.stringify leaves undefined)
    const encode = (declared: Declared, value: unknown): Uint8Array =>
      declared.json
        ? slab.encode((JSON.stringify(value) as string | undefined) ?? '')
        : declared.codec.encode(value);
    for (const [name, entries] of this.values) {
      const declared = this.declared.get(name)!;
      entries.capture((id, value) => {
        if (value === undefined) deletes.push(id);
        else upserts.push({ key: id, value: encode(declared, value) });
      });
    }
    for (const [name, entries] of this.maps) {
      const declared = this.declared.get(name)!;
      const prefix = idPrefix(this.node, name);
      entries.capture((key, field, value) => {
        const fieldJson = JSON.stringify(field);
        const id = `${prefix}${JSON.stringify(key)},${fieldJson}]`;
        const bytes = value === undefined ? undefined : encode(declared, value);
        if (bytes === undefined) deletes.push(id);
        else upserts.push({ key: id, value: bytes });
        // only the shard's own key is published; its group is `publishedGroup`'s text
        if (key !== '' || declared.ttlMs === undefined) return;
        const group = `${prefix}${fieldJson}]`;
        if (bytes === undefined) published.deletes.push(group);
        else published.upserts.push({ group, value: bytes, ttlMs: declared.ttlMs });
      });
    }
    for (const key of this.dirtyTimers) {
      const id = JSON.stringify([this.node, TIMERS, key]);
      const stored = Object.fromEntries(
        DOMAINS.map(([short, domain]) => [short, this.timers.timestampsOf(domain, key)]),
      );
      if (stored.e!.length === 0 && stored.p!.length === 0) deletes.push(id);
      else upserts.push({ key: id, value: slab.encode(JSON.stringify(stored)) });
    }
    this.dirtyTimers.clear();
    const watermark = this.timers.currentWatermark;
    if (watermark !== this.capturedWatermark) {
      this.capturedWatermark = watermark;
      upserts.push({
        key: JSON.stringify([this.node, WATERMARK, '']),
        value: encoder.encode(String(watermark)),
      });
    }
    const watermarks =
      this.activeAt === undefined ? [] : [{ node: this.node, watermark, activeAt: this.activeAt }];
    this.activeAt = undefined;
    if (published.upserts.length + published.deletes.length + watermarks.length === 0)
      return { upserts, deletes };
    return { upserts, deletes, published: { ...published, watermarks } };
  }

  /**
   * Puts a field of a parent shard's published map state (its key `''`) back under
   * `inheritedKey(parent)`, as changed; false for any other entry.
   */
  inherit(parts: readonly string[], bytes: Uint8Array, parent: string): boolean {
    const [, name, , field] = parts as [string, string, string, string | undefined];
    if (field === undefined || this.declared.get(name)?.ttlMs === undefined) return false;
    return this.restore([parts[0]!, name, inheritedKey(parent), field], bytes, true);
  }

  /**
   * Puts stored entries of this node back (`parts` parsed from their ids). With `dirty` they count as
   * changed (state a child shard took over from its parents: its first snapshot must hold it).
   * Returns false for an entry of a state the operator no longer declares.
   */
  restore(parts: readonly string[], bytes: Uint8Array, dirty: boolean): boolean {
    const [, name, key, field] = parts as [string, string, string, string | undefined];
    if (name === TIMERS) {
      const stored = JSON.parse(decoder.decode(bytes)) as Record<string, number[]>;
      for (const [short, domain] of DOMAINS) this.timers.restore(domain, key, stored[short] ?? []);
      if (dirty) this.dirtyTimers.add(key);
      return true;
    }
    if (name === WATERMARK) {
      const watermark = Number(decoder.decode(bytes));
      this.timers.restoreWatermark(watermark);
      if (!dirty) this.capturedWatermark = watermark;
      return true;
    }
    const declared = this.declared.get(name);
    if (declared === undefined) return false;
    const value = declared.codec.decode(bytes);
    if (declared.kind === 'value') {
      if (field !== undefined) return false;
      this.values.get(name)!.set(key, value, dirty);
      return true;
    }
    if (field === undefined) return false;
    this.maps.get(name)!.set(key, field, value, dirty);
    return true;
  }
}
