/**
 * The in-process window state backend of the embedded demo: the same semantics as the Redis backend
 * (`test/support/stateConformance.ts` runs both), kept in maps and typed arrays. Its state lives and dies with the
 * process, so it gives exactly-once only against redelivery within one process.
 */
import { mergeSlots, type Position, readStats, STATS_STRIDE } from '../topology/index.ts';
import { rowsOf, splitField } from './windowRows.ts';
import {
  type ApplyRequest,
  type ApplyResult,
  type Emission,
  type FlushSelection,
  positionAfter,
  type ShardWatermark,
  type StoredWindow,
  type TickResult,
  type WindowStateBackend,
} from './windowState.ts';

/** Recent classification watermarks kept per shard, for batches redelivered after they were applied. */
const CLASSIFIED_KEPT = 4096;
/** Recent emissions kept per shard, for batches redelivered after they claimed windows. */
const CLAIMS_KEPT = 32;

/** A stored column's revision: after its statistics (the layout of `topology/metricStats.ts`). */
const REVISION = STATS_STRIDE;
/** A stored column's flag: changed since the last flush. */
const CHANGED = STATS_STRIDE + 1;
/** Slots of one stored column: the statistics, the revision, the changed flag. */
const SLOTS = STATS_STRIDE + 2;

/** One key of a bucket (a row, as in `windowRows.ts`): its metrics are columns from slot `at`. */
interface Row {
  readonly name: string;
  readonly columns: string[];
  at: number;
  capacity: number;
}

/**
 * A window of one scope and size. Its rows' statistics, revisions and changed flags live in one
 * growing `Float64Array`, not in objects per field: with 100,000 devices a bucket holds a million
 * fields, and objects that many make every garbage collection slow.
 */
interface Bucket {
  readonly id: string;
  readonly end: number;
  final: boolean;
  readonly rows: Map<string, Row>;
  data: Float64Array;
  used: number;
}

/** Makes room for `slots` more slots at the end of a bucket's slab. */
function reserve(b: Bucket, slots: number): void {
  b.used += slots;
  if (b.used > b.data.length) {
    const grown = new Float64Array(Math.max(b.used, b.data.length * 2));
    grown.set(b.data);
    b.data = grown;
  }
}

/** The column of `name` in a row, appended (statistics zero, revision 0) when new. */
function columnOf(b: Bucket, row: Row, name: string, hint: number): number {
  if (row.columns[hint] === name) return hint;
  const found = row.columns.indexOf(name);
  if (found >= 0) return found;
  const c = row.columns.length;
  if (c === row.capacity) {
    const capacity = Math.max(c + 1, 2 * row.capacity);
    if (row.at + SLOTS * row.capacity === b.used) reserve(b, SLOTS * (capacity - row.capacity));
    else {
      const at = b.used;
      reserve(b, SLOTS * capacity);
      b.data.copyWithin(at, row.at, row.at + SLOTS * c);
      row.at = at;
    }
    row.capacity = capacity;
  }
  row.columns.push(name);
  b.data.fill(0, row.at + SLOTS * c, row.at + SLOTS * (c + 1));
  return c;
}

interface Shard {
  position: Position;
  maxEventTime: number;
  activeAt: number;
  readonly classified: { readonly position: Position; readonly watermark: number }[];
  readonly claims: { readonly position: Position; readonly emissions: readonly Emission[] }[];
}

/** Inserts a bucket into a list kept in window-end order (buckets are few; fields are many). */
function insertByEnd(list: Bucket[], bucket: Bucket): void {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]!.end <= bucket.end) lo = mid + 1;
    else hi = mid;
  }
  list.splice(lo, 0, bucket);
}

/** An in-process window state backend (the embedded demo's). */
export function embeddedWindowState(): WindowStateBackend {
  const buckets = new Map<string, Bucket>();
  // open and final buckets by window end: finality and retention look only at the due ones
  const open: Bucket[] = [];
  const fin: Bucket[] = [];
  // open buckets' rows with changed columns (flagged in the slab) since their last flush round
  // started, and the rows a round (of a flush prefix) took and has not flushed yet
  const dirty = new Map<Bucket, Set<Row>>();
  const flushing = new Map<Bucket, Set<Row>>();
  const shards = new Map<string, Shard>();
  // final windows the shards' last ticks claimed, until surely delivered (see `WindowStateBackend.tick`)
  const pending = new Map<string, { readonly tag: string; readonly emissions: readonly Emission[] }>();
  let global = Number.NEGATIVE_INFINITY;

  const emit = (out: Emission[], b: Bucket, row: Row, c: number) => {
    const at = row.at + SLOTS * c;
    const revision = ++b.data[at + REVISION]!;
    out.push({
      bucket: b.id,
      windowEnd: b.end,
      field: row.name + row.columns[c]!,
      stats: readStats(b.data, at),
      revision,
      final: b.final,
    });
  };

  // a bucket that turns final here was open during the merge: its changes are in `dirty`, not
  // `changedFinal`, so the three groups never name the same field twice
  const claimChangedFinal = (out: Emission[], changedFinal: Map<Bucket, Map<Row, Set<number>>>) => {
    for (const [b, rows] of changedFinal)
      for (const [row, columns] of rows) for (const c of columns) emit(out, b, row, c);
  };

  const claimDue = (out: Emission[], allowedLatenessMs: number) => {
    const due = global - allowedLatenessMs;
    let done = 0;
    while (done < open.length && open[done]!.end <= due) done++;
    for (const b of open.splice(0, done)) {
      b.final = true;
      fin.push(b);
      dirty.delete(b);
      flushing.delete(b);
      for (const row of b.rows.values()) for (let c = 0; c < row.columns.length; c++) emit(out, b, row, c);
    }
    if (done > 0) fin.sort((x, y) => x.end - y.end);
  };

  /**
   * Claims changed open windows of the selection (its prefixes in the order given), at most `limit`
   * rows; returns the first prefix with changed windows left ('' for a selection of all), if any.
   * A prefix flushes in rounds: with nothing of it flushing, a round takes the rows changed so far,
   * and rows changed meanwhile wait for the next round, so each key waits at most about a round.
   */
  const claimDirty = (
    out: Emission[],
    selection: FlushSelection,
    limit = Number.POSITIVE_INFINITY,
  ): string | undefined => {
    if (selection === false) return undefined;
    let left = limit;
    for (const prefix of selection === true ? [''] : selection) {
      let round = [...flushing.keys()].filter((b) => b.id.startsWith(prefix));
      if (round.length === 0) {
        round = [...dirty.keys()].filter((b) => b.id.startsWith(prefix));
        for (const b of round) {
          flushing.set(b, dirty.get(b)!);
          dirty.delete(b);
        }
      }
      for (const b of round) {
        const rows = flushing.get(b)!;
        for (const row of rows) {
          if (left <= 0) return prefix;
          left--;
          rows.delete(row);
          for (let c = 0; c < row.columns.length; c++) {
            const flag = row.at + SLOTS * c + CHANGED;
            if (b.data[flag] === 0) continue;
            b.data[flag] = 0;
            emit(out, b, row, c);
          }
        }
        flushing.delete(b);
      }
    }
    return undefined;
  };

  /** Moves the global watermark to the minimum over shards active within the idle timeout. */
  const advance = (now: number, policy: ApplyRequest['policy']) => {
    let liveMin = Number.POSITIVE_INFINITY;
    for (const s of shards.values()) {
      if (s.activeAt < now - policy.idleTimeoutMs || s.maxEventTime === Number.NEGATIVE_INFINITY) continue;
      liveMin = Math.min(liveMin, s.maxEventTime - policy.outOfOrdernessMs);
    }
    if (liveMin !== Number.POSITIVE_INFINITY && liveMin > global) global = liveMin;
  };

  /** What the applied batches covering [first, up] of a shard recorded (see `Classification`). */
  const recorded = (shard: Shard, first: Position, up: Position) => {
    const picked: Shard['classified'][number][] = [];
    for (const c of shard.classified) {
      if (positionAfter(first, c.position)) break;
      picked.push(c);
    }
    let cover = -1;
    for (let i = 0; i < picked.length; i++) if (!positionAfter(up, picked[i]!.position)) cover = i;
    const kept = cover < 0 ? picked : picked.slice(cover);
    const last = cover < 0 ? up : picked[cover]!.position;
    const emissions: Emission[] = [];
    for (let i = shard.claims.length - 1; i >= 0; i--) {
      const c = shard.claims[i]!;
      if (positionAfter(first, c.position) || positionAfter(c.position, last)) continue;
      for (const e of c.emissions) emissions.push(e);
    }
    const classified = kept.reverse().map((c) => ({ position: c.position, watermark: c.watermark }));
    return { classified, emissions };
  };

  const expire = (retentionMs: number) => {
    let gone = 0;
    while (gone < fin.length && fin[gone]!.end + retentionMs <= global) buckets.delete(fin[gone++]!.id);
    if (gone > 0) fin.splice(0, gone);
  };

  return {
    kind: 'embedded',
    open: async () => {},
    apply: async function applyEmbedded(req): Promise<ApplyResult> {
      const shard = shards.get(req.shardId);
      const first = req.firstPosition ?? req.position;
      if (shard !== undefined && !positionAfter(req.position, shard.position))
        return { status: 'duplicate', globalWatermark: global, ...recorded(shard, first, req.position) };
      if (shard !== undefined && !positionAfter(first, shard.position))
        return {
          status: 'overlap',
          globalWatermark: global,
          applied: shard.position,
          ...recorded(shard, first, shard.position),
        };
      const { retentionMs } = req.policy;
      if (req.partials.some((p) => p.windowEnd + retentionMs <= global))
        return { status: 'stale-watermark', globalWatermark: global };

      // changes to final windows (late records) are emitted at once, open ones on the flush interval
      const changedFinal = new Map<Bucket, Map<Row, Set<number>>>();
      for (const partial of req.partials) {
        let bucket = buckets.get(partial.bucket);
        if (bucket === undefined) {
          bucket = {
            id: partial.bucket,
            end: partial.windowEnd,
            final: false,
            rows: new Map(),
            data: new Float64Array(SLOTS * Math.max(16, partial.fields.size)),
            used: 0,
          };
          buckets.set(partial.bucket, bucket);
          insertByEnd(open, bucket);
        }
        let finalChanges: Map<Row, Set<number>> | undefined;
        let dirtyRows: Set<Row> | undefined;
        if (bucket.final) {
          finalChanges = changedFinal.get(bucket);
          if (finalChanges === undefined) {
            finalChanges = new Map();
            changedFinal.set(bucket, finalChanges);
          }
        } else {
          dirtyRows = dirty.get(bucket);
          if (dirtyRows === undefined) {
            dirtyRows = new Set();
            dirty.set(bucket, dirtyRows);
          }
        }
        const { byRow, data: from } = partial.rows ?? rowsOf(partial.fields);
        for (const [name, p] of byRow) {
          let row = bucket.rows.get(name);
          if (row === undefined) {
            row = { name, columns: [], at: bucket.used, capacity: p.columns.length };
            bucket.rows.set(name, row);
            reserve(bucket, SLOTS * p.columns.length);
          }
          let changed: Set<number> | undefined;
          if (finalChanges !== undefined) {
            changed = finalChanges.get(row);
            if (changed === undefined) {
              changed = new Set();
              finalChanges.set(row, changed);
            }
          } else dirtyRows!.add(row);
          for (let j = 0; j < p.columns.length; j++) {
            const c = columnOf(bucket, row, p.columns[j]!, j);
            const at = row.at + SLOTS * c;
            mergeSlots(bucket.data, at, from, p.at + STATS_STRIDE * j);
            if (changed !== undefined) changed.add(c);
            else bucket.data[at + CHANGED] = 1;
          }
        }
      }

      const entry: Shard = shard ?? {
        position: req.position,
        maxEventTime: Number.NEGATIVE_INFINITY,
        activeAt: req.now,
        classified: [],
        claims: [],
      };
      shards.set(req.shardId, entry);
      entry.position = req.position;
      entry.maxEventTime = Math.max(entry.maxEventTime, req.maxEventTime);
      entry.activeAt = req.now;
      entry.classified.unshift({ position: req.position, watermark: req.classifiedWith });
      if (entry.classified.length > CLASSIFIED_KEPT) entry.classified.pop();

      advance(req.now, req.policy);

      const emissions: Emission[] = [];
      claimChangedFinal(emissions, changedFinal);
      claimDue(emissions, req.policy.allowedLatenessMs);
      const more = claimDirty(emissions, req.flush, req.flushLimit);
      // the finals of the shard's last ticks: this batch's claim keeps them from now on
      const ticked = pending.get(req.shardId);
      if (ticked !== undefined) {
        for (const e of ticked.emissions) emissions.push(e);
        pending.delete(req.shardId);
      }
      if (emissions.length > 0) {
        // what was emitted, not a reference: the windows may expire before a redelivery
        entry.claims.unshift({ position: req.position, emissions });
        if (entry.claims.length > CLAIMS_KEPT) entry.claims.pop();
      }
      expire(retentionMs);
      return more === undefined
        ? { status: 'applied', globalWatermark: global, emissions }
        : { status: 'applied', globalWatermark: global, emissions, moreToFlush: more };
    },
    tick: async function tickEmbedded(req): Promise<TickResult> {
      advance(req.now, req.policy);
      const finals: Emission[] = [];
      claimDue(finals, req.policy.allowedLatenessMs);
      const before = pending.get(req.shardId);
      // the previous tick of this session is delivered (see `WindowStateBackend.tick`): only the
      // new finals stay pending; otherwise the earlier ones are returned again and stay too
      const delivered = before?.tag === `${req.session}:${req.sequence - 1}`;
      const kept = delivered || before === undefined ? finals : [...before.emissions, ...finals];
      if (kept.length > 0)
        pending.set(req.shardId, { tag: `${req.session}:${req.sequence}`, emissions: kept });
      else pending.delete(req.shardId);
      const emissions = [...kept];
      const more = claimDirty(emissions, req.flush, req.flushLimit);
      expire(req.policy.retentionMs);
      return more === undefined
        ? { globalWatermark: global, emissions }
        : { globalWatermark: global, emissions, moreToFlush: more };
    },
    advanceGlobal: async (shardId, now, policy) => {
      const shard = shards.get(shardId);
      if (shard !== undefined) shard.activeAt = now;
      advance(now, policy);
      return global;
    },
    readWindow: async (bucket, field): Promise<StoredWindow | undefined> => {
      const b = buckets.get(bucket);
      const { row: name, column } = splitField(field);
      const row = b?.rows.get(name);
      const c = row?.columns.indexOf(column) ?? -1;
      if (b === undefined || row === undefined || c < 0) return undefined;
      const at = row.at + SLOTS * c;
      return { stats: readStats(b.data, at), revision: b.data[at + REVISION]!, final: b.final };
    },
    watermarks: async () => ({
      global,
      shards: [...shards].map(
        ([shardId, s]): ShardWatermark => ({
          shardId,
          maxEventTime: s.maxEventTime,
          activeAt: s.activeAt,
          position: s.position,
        }),
      ),
    }),
    close: async () => {},
  };
}
