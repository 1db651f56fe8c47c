/**
 * The production window state backend: Redis, one `EVALSHA` per batch (the script in
 * `windowScripts.ts` merges every partial of the batch, moves the shard's applied position and
 * watermark, recomputes the global watermark and claims due windows, atomically). Statistics travel
 * and rest as packed float64s, so the numbers are the embedded backend's to the bit.
 *
 * An epoch key guards against a Redis that restarted empty (or was flushed): every call names the
 * epoch it joined, and a missing or different epoch raises `StateLostError` instead of counting on.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { z } from 'zod';
import type { MetricStats } from '../topology/index.ts';
import { PACKED_STATS_BYTES, unpackStats } from './mergeStats.ts';
import { WINDOW_APPLY } from './windowScripts.ts';
import {
  type ApplyRequest,
  type ApplyResult,
  type Emission,
  type ShardWatermark,
  StateLostError,
  type StoredWindow,
  type WindowStateBackend,
} from './windowState.ts';

/** Configuration of the Redis window state backend. */
export const redisWindowStateConfigSchema = z
  .object({
    redisUrl: z.string().min(1).describe('Redis URL, e.g. redis://127.0.0.1:6379'),
    namespace: z
      .string()
      .regex(/^[A-Za-z0-9_.-]+$/)
      .default('windows')
      .describe("key namespace of this topology's window state (one per window node)"),
  })
  .strict();
/** See {@link redisWindowStateConfigSchema}. */
export type RedisWindowStateConfig = z.output<typeof redisWindowStateConfigSchema>;

interface WindowCommands {
  windowApplyBuffer(...args: (string | Buffer)[]): Promise<Buffer[]>;
}

const num = (s: string) => (s === '-inf' ? Number.NEGATIVE_INFINITY : Number(s));
const str = (x: number) => (x === Number.NEGATIVE_INFINITY ? '-inf' : String(x));

/** Reads the reply's emission blob (per bucket: name, end, final flag, fields; see `windowScripts.ts`). */
function readEmissions(blob: Buffer): Emission[] {
  const out: Emission[] = [];
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  let at = 0;
  while (at < blob.length) {
    const bucketLength = view.getUint16(at, true);
    const bucket = blob.toString('utf8', at + 2, at + 2 + bucketLength);
    at += 2 + bucketLength;
    const windowEnd = view.getFloat64(at, true);
    const final = blob[at + 8] === 1;
    const count = view.getUint32(at + 9, true);
    at += 13;
    for (let i = 0; i < count; i++) {
      const fieldLength = view.getUint16(at, true);
      const field = blob.toString('utf8', at + 2, at + 2 + fieldLength);
      at += 2 + fieldLength;
      const stats: MetricStats = {
        count: view.getFloat64(at, true),
        sum: view.getFloat64(at + 8, true),
        min: view.getFloat64(at + 16, true),
        max: view.getFloat64(at + 24, true),
        mean: view.getFloat64(at + 32, true),
        m2: view.getFloat64(at + 40, true),
        first: view.getFloat64(at + 48, true),
        firstAt: view.getFloat64(at + 56, true),
        last: view.getFloat64(at + 64, true),
        lastAt: view.getFloat64(at + 72, true),
      };
      // a final bucket's turning final is the +1 the script does not write to each field
      const revision = view.getFloat64(at + PACKED_STATS_BYTES, true) + (final ? 1 : 0);
      at += 8 + PACKED_STATS_BYTES;
      out.push({ bucket, windowEnd, field, stats, revision, final });
    }
  }
  return out;
}

/** Bytes of a partial in the blob: the stored form (ten float64s and revision 0), copied as is when new. */
const PARTIAL_BYTES = PACKED_STATS_BYTES + 8;

/** Packs a bucket's partials into one blob: n × 88-byte records, then n × (u16 name length, name). */
function packPartials(fields: ReadonlyMap<string, MetricStats>): Buffer {
  const statsBytes = fields.size * PARTIAL_BYTES;
  let bound = statsBytes;
  // a UTF-16 code unit takes at most three bytes of UTF-8: size the blob once, without measuring
  for (const field of fields.keys()) bound += 2 + 3 * field.length;
  const blob = Buffer.allocUnsafeSlow(bound);
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  let at = 0;
  let names = statsBytes;
  for (const [field, s] of fields) {
    view.setFloat64(at, s.count, true);
    view.setFloat64(at + 8, s.sum, true);
    view.setFloat64(at + 16, s.min, true);
    view.setFloat64(at + 24, s.max, true);
    view.setFloat64(at + 32, s.mean, true);
    view.setFloat64(at + 40, s.m2, true);
    view.setFloat64(at + 48, s.first, true);
    view.setFloat64(at + 56, s.firstAt, true);
    view.setFloat64(at + 64, s.last, true);
    view.setFloat64(at + 72, s.lastAt, true);
    view.setFloat64(at + 80, 0, true);
    at += PARTIAL_BYTES;
    const length = blob.write(field, names + 2);
    view.setUint16(names, length, true);
    names += 2 + length;
  }
  return blob.subarray(0, names);
}

/** The Redis backend, with its count of requests sent (the benchmark reports round trips per batch). */
export interface RedisWindowState extends WindowStateBackend {
  readonly roundTrips: number;
}

/** A Redis window state backend. */
export function redisWindowState(config: RedisWindowStateConfig): RedisWindowState {
  const prefix = `sf:{${config.namespace}}:`;
  let client: (Redis & WindowCommands) | undefined;
  let epoch: string | undefined;
  let roundTrips = 0;

  const redis = () => {
    if (client === undefined) throw new Error('redis window state is not open');
    return client;
  };

  return {
    kind: 'redis',
    get roundTrips() {
      return roundTrips;
    },
    open: async () => {
      const c = new Redis(config.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 3 }) as Redis &
        WindowCommands;
      c.defineCommand('windowApply', { numberOfKeys: 0, lua: WINDOW_APPLY });
      await c.connect();
      client = c;
      await c.set(`${prefix}epoch`, randomUUID(), 'NX');
      epoch = (await c.get(`${prefix}epoch`)) ?? undefined;
      if (epoch === undefined) throw new StateLostError('window state epoch vanished while joining');
    },
    apply: async function applyRedis(req: ApplyRequest): Promise<ApplyResult> {
      const args: (string | Buffer)[] = [
        prefix,
        epoch ?? '',
        req.shardId,
        req.position.sequenceNumber,
        String(req.position.subSequenceNumber),
        str(req.classifiedWith),
        str(req.maxEventTime),
        String(req.now),
        String(req.policy.outOfOrdernessMs),
        String(req.policy.allowedLatenessMs),
        String(req.policy.retentionMs),
        String(req.policy.idleTimeoutMs),
        req.flush ? '1' : '0',
        String(req.partials.length),
      ];
      for (const partial of req.partials)
        args.push(
          partial.bucket,
          String(partial.windowEnd),
          String(partial.fields.size),
          packPartials(partial.fields),
        );
      roundTrips++;
      const reply = await redis().windowApplyBuffer(...args);
      const status = reply[0]!.toString();
      if (status === 'lost')
        throw new StateLostError(
          `window state in ${config.namespace} was lost (Redis restarted empty or was flushed): replay from a savepoint`,
        );
      const globalWatermark = num(reply[1]!.toString());
      if (status === 'stale') return { status: 'stale-watermark', globalWatermark };
      const emissions = readEmissions(reply[3]!);
      if (status === 'applied') return { status, globalWatermark, emissions };
      const cw = reply[2]!.toString();
      return {
        status: 'duplicate',
        globalWatermark,
        classifiedWith: cw === '' ? undefined : num(cw),
        emissions,
      };
    },
    readWindow: async (bucket, field): Promise<StoredWindow | undefined> => {
      const c = redis();
      const [value, fin] = await Promise.all([
        c.hgetBuffer(`${prefix}b:${bucket}`, field),
        c.zscore(`${prefix}fin`, bucket),
      ]);
      if (value === null) return undefined;
      return {
        stats: unpackStats(value),
        revision: value.readDoubleLE(PACKED_STATS_BYTES) + (fin !== null ? 1 : 0),
        final: fin !== null,
      };
    },
    watermarks: async () => {
      const c = redis();
      const [g, wm, pos] = await Promise.all([
        c.get(`${prefix}g`),
        c.hgetall(`${prefix}wm`),
        c.hgetall(`${prefix}pos`),
      ]);
      const shards = Object.entries(wm).map(([shardId, value]): ShardWatermark => {
        const [max, active] = value.split(',');
        const p = pos[shardId]?.split(':');
        return {
          shardId,
          maxEventTime: num(max!),
          activeAt: Number(active),
          position: p ? { sequenceNumber: p[0]!, subSequenceNumber: Number(p[1]) } : undefined,
        };
      });
      return { global: g === null ? Number.NEGATIVE_INFINITY : num(g), shards };
    },
    close: async () => {
      client?.disconnect();
      client = undefined;
    },
  };
}
