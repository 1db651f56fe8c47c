/**
 * The production window state backend: Redis, one `EVALSHA` per batch or tick (the scripts in
 * `windowScripts.ts` merges every partial of the batch, moves the shard's applied position and
 * watermark, recomputes the global watermark and claims due windows, atomically). State is kept in
 * rows, one per key with all its metrics (`windowRows.ts`); statistics travel and rest as packed
 * float64s, so the numbers are the embedded backend's to the bit.
 *
 * An epoch key guards against a Redis that restarted empty (or was flushed): every call names the
 * epoch it joined, and a missing or different epoch raises `StateLostError` instead of counting on.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import {
  openRedisClient,
  type RedisConnection,
  type RedisStoreDeps,
  redisConnectionConfigSchema,
} from './redisConnection.ts';
import { packPartialRows, packRows, readColumn, readEmissions, splitField } from './windowRows.ts';
import { WINDOW_APPLY, WINDOW_GLOBAL, WINDOW_JOIN, WINDOW_LAYOUT, WINDOW_TICK } from './windowScripts.ts';
import {
  type ApplyRequest,
  type ApplyResult,
  type Classification,
  flushArgument,
  type ShardWatermark,
  StateLostError,
  type StoredWindow,
  type TickRequest,
  type TickResult,
  type WindowStateBackend,
} from './windowState.ts';

/** Configuration of the Redis window state backend. */
export const redisWindowStateConfigSchema = redisConnectionConfigSchema
  .extend({
    namespace: z
      .string()
      .regex(/^[A-Za-z0-9_.-]+$/)
      .optional()
      .describe(
        "key prefix of this topology's state (window state sf:{NAMESPACE}:…, keyed state sf:{NAMESPACE}:ks:…); `<topology.name>.windows` when absent",
      ),
  })
  .strict();

/** A Redis window state backend's connection and the namespace its keys live in. */
export interface RedisWindowStateConfig extends RedisConnection {
  readonly namespace: string;
}

/** What the Redis backend is given besides its configuration. */
export type RedisWindowStateDeps = RedisStoreDeps;

interface WindowCommands {
  windowApplyBuffer(...args: (string | Buffer)[]): Promise<Buffer[]>;
  windowTickBuffer(...args: string[]): Promise<Buffer[]>;
  windowGlobal(...args: string[]): Promise<string[]>;
  windowJoin(prefix: string, epoch: string, layout: string): Promise<[string | null, string]>;
}

const num = (s: string) => (s === '-inf' ? Number.NEGATIVE_INFINITY : Number(s));
const str = (x: number) => (x === Number.NEGATIVE_INFINITY ? '-inf' : String(x));
/** The prefix a script's flush left changed windows of (`'+' prefix`), if any (`'0'`). */
function unfinished(reply: Buffer | undefined): string | undefined {
  const text = reply?.toString();
  return text?.startsWith('+') ? text.slice(1) : undefined;
}

/** The flush limit sent when the caller sets none. */
const UNLIMITED = 2 ** 31 - 1;

/** The arguments both scripts take after the shard (apply: after its batch's positions): time, policy, flush. */
function timeArgs(req: ApplyRequest | TickRequest): string[] {
  return [
    String(req.now),
    String(req.policy.outOfOrdernessMs),
    String(req.policy.allowedLatenessMs),
    String(req.policy.retentionMs),
    String(req.policy.idleTimeoutMs),
    flushArgument(req.flush),
  ];
}

function positionOf(text: string): { sequenceNumber: string; subSequenceNumber: number } {
  const [sequenceNumber, sub] = text.split(':');
  return { sequenceNumber: sequenceNumber!, subSequenceNumber: Number(sub) };
}

/** The script's `seq:sub:watermark` list (ascending, comma-separated). */
function classificationsOf(text: string): Classification[] {
  if (text === '') return [];
  return text.split(',').map((entry) => {
    const [sequenceNumber, sub, watermark] = entry.split(':');
    return {
      position: { sequenceNumber: sequenceNumber!, subSequenceNumber: Number(sub) },
      watermark: num(watermark!),
    };
  });
}

/** The Redis backend, with its count of requests sent (the benchmark reports round trips per batch). */
export interface RedisWindowState extends WindowStateBackend {
  readonly roundTrips: number;
}

/** A Redis window state backend. */
export function redisWindowState(
  config: RedisWindowStateConfig,
  deps: RedisWindowStateDeps = {},
): RedisWindowState {
  const prefix = `sf:{${config.namespace}}:`;
  let client: (Redis & WindowCommands) | undefined;
  let epoch: string | undefined;
  let roundTrips = 0;
  const lost = () =>
    new StateLostError(
      `window state in ${config.namespace} was lost (Redis restarted empty or was flushed): replay from a savepoint`,
    );

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
      const c = (await openRedisClient(config, deps, `window state ${config.namespace}`, {
        maxRetriesPerRequest: 3,
      })) as Redis & WindowCommands;
      c.defineCommand('windowApply', { numberOfKeys: 0, lua: WINDOW_APPLY });
      c.defineCommand('windowJoin', { numberOfKeys: 0, lua: WINDOW_JOIN });
      c.defineCommand('windowTick', { numberOfKeys: 0, lua: WINDOW_TICK });
      c.defineCommand('windowGlobal', { numberOfKeys: 0, lua: WINDOW_GLOBAL });
      client = c;
      const [joined, layout] = await c.windowJoin(prefix, randomUUID(), WINDOW_LAYOUT);
      if (joined === null) throw new StateLostError('window state epoch vanished while joining');
      if (layout !== WINDOW_LAYOUT)
        throw new StateLostError(
          `window state in ${config.namespace} was written in another layout (${layout || 'one field per key × metric'}): stop every worker and replay into a new namespace`,
        );
      epoch = joined;
    },
    apply: async function applyRedis(req: ApplyRequest): Promise<ApplyResult> {
      const first = req.firstPosition ?? req.position;
      const args: (string | Buffer)[] = [
        prefix,
        epoch ?? '',
        req.shardId,
        req.position.sequenceNumber,
        String(req.position.subSequenceNumber),
        str(req.classifiedWith),
        str(req.maxEventTime),
        ...timeArgs(req),
        first.sequenceNumber,
        String(first.subSequenceNumber),
        String(req.partials.length),
        String(req.flushLimit ?? UNLIMITED),
      ];
      for (const partial of req.partials)
        args.push(
          partial.bucket,
          String(partial.windowEnd),
          partial.rows ? packPartialRows(partial.rows) : packRows(partial.fields),
        );
      roundTrips++;
      const reply = await redis().windowApplyBuffer(...args);
      const status = reply[0]!.toString();
      if (status === 'lost') throw lost();
      const globalWatermark = num(reply[1]!.toString());
      if (status === 'stale') return { status: 'stale-watermark', globalWatermark };
      const emissions = readEmissions(reply[3]!);
      if (status === 'applied') {
        const more = unfinished(reply[4]);
        return more === undefined
          ? { status, globalWatermark, emissions }
          : { status, globalWatermark, emissions, moreToFlush: more };
      }
      const classified = classificationsOf(reply[2]!.toString());
      if (status === 'overlap')
        return {
          status,
          globalWatermark,
          applied: positionOf(reply[4]!.toString()),
          classified,
          emissions,
        };
      return { status: 'duplicate', globalWatermark, classified, emissions };
    },
    tick: async function tickRedis(req: TickRequest): Promise<TickResult> {
      roundTrips++;
      const reply = await redis().windowTickBuffer(
        prefix,
        epoch ?? '',
        req.shardId,
        ...timeArgs(req),
        req.session,
        String(req.sequence),
        String(req.flushLimit ?? UNLIMITED),
      );
      if (reply[0]!.toString() === 'lost') throw lost();
      const ticked = { globalWatermark: num(reply[0]!.toString()), emissions: readEmissions(reply[1]!) };
      const more = unfinished(reply[2]);
      return more === undefined ? ticked : { ...ticked, moreToFlush: more };
    },
    advanceGlobal: async (shardId, now, policy) => {
      roundTrips++;
      const reply = await redis().windowGlobal(
        prefix,
        epoch ?? '',
        shardId,
        String(now),
        String(policy.outOfOrdernessMs),
        String(policy.idleTimeoutMs),
      );
      if (reply[0] === 'lost') throw lost();
      return num(reply[0]!);
    },
    readWindow: async (bucket, field): Promise<StoredWindow | undefined> => {
      const c = redis();
      const { row, column } = splitField(field);
      const [value, fin] = await Promise.all([
        c.hgetBuffer(`${prefix}b:${bucket}`, row),
        c.zscore(`${prefix}fin`, bucket),
      ]);
      const stored = value === null ? undefined : readColumn(value, column);
      if (stored === undefined) return undefined;
      return {
        stats: stored.stats,
        revision: stored.revision + (fin !== null ? 1 : 0),
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
