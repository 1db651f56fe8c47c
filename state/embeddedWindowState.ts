/**
 * The in-process window state backend of the embedded demo: the same semantics as the Redis backend
 * (`test/support/stateConformance.ts` runs both), kept in maps. Its state lives and dies with the
 * process, so it gives exactly-once only against redelivery within one process.
 */
import type { MetricStats, Position } from '../topology/index.ts';
import { mergeStats } from './mergeStats.ts';
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

interface Field {
  stats: MetricStats;
  revision: number;
}

const copyOf = (s: MetricStats): MetricStats => ({
  count: s.count,
  sum: s.sum,
  min: s.min,
  max: s.max,
  mean: s.mean,
  m2: s.m2,
  first: s.first,
  firstAt: s.firstAt,
  last: s.last,
  lastAt: s.lastAt,
});

interface Bucket {
  readonly end: number;
  final: boolean;
  readonly fields: Map<string, Field>;
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

/** An in-process window state backend (the embedded demo's). */
export function embeddedWindowState(): WindowStateBackend {
  const buckets = new Map<string, Bucket>();
  const dirty = new Map<string, Set<string>>();
  const shards = new Map<string, Shard>();
  let global = Number.NEGATIVE_INFINITY;

  const emissionOf = (bucket: string, field: string): Emission | undefined => {
    const b = buckets.get(bucket);
    const f = b?.fields.get(field);
    if (b === undefined || f === undefined) return undefined;
    return { bucket, windowEnd: b.end, field, stats: f.stats, revision: f.revision, final: b.final };
  };

  const claim = (req: ApplyRequest, changedFinal: readonly (readonly [string, string])[]) => {
    const items: (readonly [string, string])[] = [];
    const seen = new Set<string>();
    for (const item of changedFinal) {
      if (seen.has(`${item[0]}\x1f${item[1]}`)) continue;
      seen.add(`${item[0]}\x1f${item[1]}`);
      items.push(item);
    }
    const { allowedLatenessMs } = req.policy;
    for (const [id, b] of buckets) {
      if (b.final || b.end + allowedLatenessMs > global) continue;
      b.final = true;
      dirty.delete(id);
      for (const field of b.fields.keys()) if (!seen.has(`${id}\x1f${field}`)) items.push([id, field]);
    }
    if (req.flush) {
      for (const [id, fields] of dirty) for (const field of fields) items.push([id, field]);
      dirty.clear();
    }
    for (const [id, field] of items) {
      const f = buckets.get(id)!.fields.get(field)!;
      f.revision++;
    }
    return items;
  };

  const expire = (retentionMs: number) => {
    for (const [id, b] of buckets) {
      if (b.final && b.end + retentionMs <= global) {
        buckets.delete(id);
        dirty.delete(id);
      }
    }
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
      const changedFinal: (readonly [string, string])[] = [];
      for (const partial of req.partials) {
        let bucket = buckets.get(partial.bucket);
        if (bucket === undefined) {
          bucket = { end: partial.windowEnd, final: false, fields: new Map() };
          buckets.set(partial.bucket, bucket);
        }
        let changed = dirty.get(partial.bucket);
        if (changed === undefined && !bucket.final) {
          changed = new Set();
          dirty.set(partial.bucket, changed);
        }
        for (const [field, stats] of partial.fields) {
          const current = bucket.fields.get(field);
          if (current === undefined) bucket.fields.set(field, { stats: copyOf(stats), revision: 0 });
          else current.stats = mergeStats(current.stats, stats);
          if (bucket.final) changedFinal.push([partial.bucket, field]);
          else changed!.add(field);
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

      const items = claim(req, changedFinal);
      const emissions = items.map(([bucket, field]) => emissionOf(bucket, field)!);
      if (items.length > 0) {
        // what was emitted, not a reference: the windows may expire before a redelivery
        entry.claims.unshift({ position: req.position, emissions });
        if (entry.claims.length > CLAIMS_KEPT) entry.claims.pop();
      }
      expire(retentionMs);
      return { status: 'applied', globalWatermark: global, emissions };
    },
    readWindow: async (bucket, field): Promise<StoredWindow | undefined> => {
      const b = buckets.get(bucket);
      const f = b?.fields.get(field);
      return b && f ? { stats: f.stats, revision: f.revision, final: b.final } : undefined;
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
