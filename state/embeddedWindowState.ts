/**
 * The in-process window state backend of the embedded demo: the same semantics as the Redis backend
 * (`test/support/stateConformance.ts` runs both), kept in maps and typed arrays. Its state lives and dies with the
 * process, so it gives exactly-once only against redelivery within one process.
 */
import type { Position } from '../topology/index.ts';
import { mergeInto, readStats, STORED_SLOTS, writeStats } from './mergeStats.ts';
import {
  type ApplyRequest,
  type ApplyResult,
  type Emission,
  positionAfter,
  type ShardWatermark,
  type StoredWindow,
  type WindowStateBackend,
} from './windowState.ts';

/** Recent classification watermarks kept per shard, for batches redelivered after they were applied. */
const CLASSIFIED_KEPT = 4096;
/** Recent emissions kept per shard, for batches redelivered after they claimed windows. */
const CLAIMS_KEPT = 32;

/**
 * A window of one scope and size. Its fields' statistics and revisions live in one growing
 * `Float64Array` (slot = field's index × 11), not in an object per field: with 100,000 devices a
 * bucket holds a million fields, and objects that many make every garbage collection slow.
 */
interface Bucket {
  readonly id: string;
  readonly end: number;
  final: boolean;
  readonly index: Map<string, number>;
  readonly names: string[];
  data: Float64Array;
}

interface Shard {
  position: Position;
  maxEventTime: number;
  activeAt: number;
  readonly classified: { readonly position: Position; readonly watermark: number }[];
  readonly claims: { readonly position: Position; readonly emissions: readonly Emission[] }[];
}

const samePosition = (a: Position, b: Position) =>
  a.sequenceNumber === b.sequenceNumber && a.subSequenceNumber === b.subSequenceNumber;

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
  const dirty = new Map<Bucket, Set<number>>();
  const shards = new Map<string, Shard>();
  let global = Number.NEGATIVE_INFINITY;

  const emit = (out: Emission[], b: Bucket, i: number) => {
    const at = i * STORED_SLOTS;
    const revision = ++b.data[at + 10]!;
    out.push({
      bucket: b.id,
      windowEnd: b.end,
      field: b.names[i]!,
      stats: readStats(b.data, at),
      revision,
      final: b.final,
    });
  };

  const claim = (req: ApplyRequest, changedFinal: Map<Bucket, Set<number>>): Emission[] => {
    const out: Emission[] = [];
    // a bucket that turns final here was open during the merge: its changes are in `dirty`, not
    // `changedFinal`, so the three groups never name the same field twice
    for (const [b, fields] of changedFinal) for (const i of fields) emit(out, b, i);
    const due = global - req.policy.allowedLatenessMs;
    let done = 0;
    while (done < open.length && open[done]!.end <= due) done++;
    for (const b of open.splice(0, done)) {
      b.final = true;
      fin.push(b);
      dirty.delete(b);
      for (let i = 0; i < b.names.length; i++) emit(out, b, i);
    }
    if (done > 0) fin.sort((x, y) => x.end - y.end);
    if (req.flush) {
      for (const [b, fields] of dirty) for (const i of fields) emit(out, b, i);
      dirty.clear();
    }
    return out;
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
      if (shard !== undefined && !positionAfter(req.position, shard.position)) {
        const classified = shard.classified.find((c) => samePosition(c.position, req.position));
        const claimed = shard.claims.find((c) => samePosition(c.position, req.position));
        const emissions = claimed?.emissions ?? [];
        return {
          status: 'duplicate',
          globalWatermark: global,
          classifiedWith: classified?.watermark,
          emissions,
        };
      }
      const { retentionMs, outOfOrdernessMs, idleTimeoutMs } = req.policy;
      if (req.partials.some((p) => p.windowEnd + retentionMs <= global))
        return { status: 'stale-watermark', globalWatermark: global };

      // changes to final windows (late records) are emitted at once, open ones on the flush interval
      const changedFinal = new Map<Bucket, Set<number>>();
      for (const partial of req.partials) {
        let bucket = buckets.get(partial.bucket);
        if (bucket === undefined) {
          bucket = {
            id: partial.bucket,
            end: partial.windowEnd,
            final: false,
            index: new Map(),
            names: [],
            data: new Float64Array(STORED_SLOTS * Math.max(16, partial.fields.size)),
          };
          buckets.set(partial.bucket, bucket);
          insertByEnd(open, bucket);
        }
        const changes = bucket.final ? changedFinal : dirty;
        let changed = changes.get(bucket);
        if (changed === undefined) {
          changed = new Set();
          changes.set(bucket, changed);
        }
        const { index, names } = bucket;
        for (const [field, stats] of partial.fields) {
          let i = index.get(field);
          if (i === undefined) {
            i = names.length;
            index.set(field, i);
            names.push(field);
            if ((i + 1) * STORED_SLOTS > bucket.data.length) {
              const grown = new Float64Array(bucket.data.length * 2);
              grown.set(bucket.data);
              bucket.data = grown;
            }
            writeStats(bucket.data, i * STORED_SLOTS, stats);
            bucket.data[i * STORED_SLOTS + 10] = 0;
          } else mergeInto(bucket.data, i * STORED_SLOTS, stats);
          changed.add(i);
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

      let liveMin = Number.POSITIVE_INFINITY;
      for (const s of shards.values()) {
        if (s.activeAt < req.now - idleTimeoutMs || s.maxEventTime === Number.NEGATIVE_INFINITY) continue;
        liveMin = Math.min(liveMin, s.maxEventTime - outOfOrdernessMs);
      }
      if (liveMin !== Number.POSITIVE_INFINITY && liveMin > global) global = liveMin;

      const emissions = claim(req, changedFinal);
      if (emissions.length > 0) {
        // what was emitted, not a reference: the windows may expire before a redelivery
        entry.claims.unshift({ position: req.position, emissions });
        if (entry.claims.length > CLAIMS_KEPT) entry.claims.pop();
      }
      expire(retentionMs);
      return { status: 'applied', globalWatermark: global, emissions };
    },
    readWindow: async (bucket, field): Promise<StoredWindow | undefined> => {
      const b = buckets.get(bucket);
      const i = b?.index.get(field);
      if (b === undefined || i === undefined) return undefined;
      const at = i * STORED_SLOTS;
      return { stats: readStats(b.data, at), revision: b.data[at + 10]!, final: b.final };
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
