/**
 * The gateways' one way onto the stream. A gateway offers a device's record and learns when it is
 * durable (in the stream), so that it acknowledges the device then and never earlier. Three rules
 * hold the guarantees the gateways promise:
 *
 * - **Order per key.** Records wait in a lane: one per shard (the shard their partition key hashes to,
 *   from ListShards: the KPL's aggregation, many devices' records in one Kinesis record), or one per
 *   partition key until the shard map is known or when `lanes: 'key'`. A lane has at most one Kinesis
 *   entry in flight; when it holds several records they travel as one KPL aggregate
 *   (`aggregatePrefix`), so they are put, or fail, together. A failed entry goes back to the head of
 *   its lane, so a retried record can never land behind a later one of the same key (two entries of
 *   one key in one request could: Kinesis fails entries one by one). When the shard map changes (a
 *   reshard), nothing is sent until every entry in flight has returned; then the waiting records are
 *   dealt to the new lanes, each key's in its order.
 * - **Nothing acknowledged is lost.** A record's promise resolves only after PutRecords reported its
 *   entry put. Failed entries, throttled or failed requests and an unreachable stream are retried
 *   with capped exponential backoff per lane, for as long as the gateway runs; only `close` gives up,
 *   and it rejects (never resolves) what is left.
 * - **Bounded memory.** Everything not yet durable counts against `maxBufferedBytes` and
 *   `maxBufferedRecords`. Past either, `offer` refuses (REST answers 429) and `hasRoom` is false (TCP
 *   stops reading its sockets, the MQTT bridge its broker); `whenRoom` resolves once the buffer has
 *   drained below three quarters of both bounds.
 *
 * Requests are sent when `lingerMs` has passed since the first waiting record or a full request
 * (500 entries, 5 MiB) is waiting, with up to `maxInFlightRequests` at once: the Kinesis Producer
 * Library's buffering, with the ordering it does not give.
 */
import { type KinesisClient, PutRecordsCommand, type PutRecordsRequestEntry } from '@aws-sdk/client-kinesis';
import type { Clock, Logger } from '../../topology/index.ts';
import {
  aggregatePrefix,
  DEFAULT_AGGREGATE_BYTES,
  shardRouter,
  type UserRecord,
} from '../kinesis/kplAggregation.ts';
import { openShardRanges, PUT_RECORDS_LIMITS } from '../kinesis/producer.ts';
import { LatencyHistogram } from './latency.ts';

/** How much a gateway buffers and how it sends. */
export interface IngestLimits {
  /** Longest wait (ms) of a record for others to share its request. */
  readonly lingerMs: number;
  /** PutRecords requests in flight at once. */
  readonly maxInFlightRequests: number;
  /** Bytes (data and keys) of records not yet durable, past which the gateway pushes back. */
  readonly maxBufferedBytes: number;
  /** Records not yet durable, past which the gateway pushes back. */
  readonly maxBufferedRecords: number;
  readonly initialRetryDelayMs: number;
  readonly maxRetryDelayMs: number;
  /** Upper bound (bytes) of one KPL aggregate of a lane's records. */
  readonly aggregateBytes: number;
  /** A lane per shard (records of many keys share aggregates) or per partition key. */
  readonly lanes: 'shard' | 'key';
  /** How often (ms) the shard map is read again with ListShards. */
  readonly shardMapTtlMs: number;
}

export const DEFAULT_INGEST_LIMITS: IngestLimits = {
  lingerMs: 20,
  maxInFlightRequests: 4,
  maxBufferedBytes: 64 * 1024 * 1024,
  maxBufferedRecords: 100_000,
  initialRetryDelayMs: 100,
  maxRetryDelayMs: 5_000,
  aggregateBytes: DEFAULT_AGGREGATE_BYTES,
  lanes: 'shard',
  shardMapTtlMs: 60_000,
};

/** What a durable ingest needs. */
export interface DurableIngestOptions {
  readonly client: KinesisClient;
  readonly streamName: string;
  readonly clock: Clock;
  readonly log?: Logger;
  readonly limits?: Partial<IngestLimits>;
}

/** One record for the stream: its partition key and bytes. */
export interface IngestRecord {
  readonly partitionKey: string;
  readonly data: Uint8Array;
}

/** The answer to an offer: taken (with the promise of durability), or refused and why. */
export type Admission =
  | { readonly accepted: true; readonly durable: Promise<void> }
  | { readonly accepted: false; readonly reason: 'full' | 'closed'; readonly retryAfterMs: number };

/** Figures for `/metrics` and the benchmark. */
export interface IngestStats {
  readonly bufferedRecords: number;
  readonly bufferedBytes: number;
  readonly inFlightRequests: number;
  /** Records acknowledged as durable. */
  readonly recordsPut: number;
  readonly requests: number;
  /** Entries PutRecords reported failed (each retried). */
  readonly entriesFailed: number;
  /** Requests that failed as a whole: throttled, refused or unanswered (each retried). */
  readonly requestsFailed: number;
  /** Offers refused because the buffer was full. */
  readonly refused: number;
  /** Epoch ms of the last request the stream answered, 0 before the first. */
  readonly lastAnsweredAt: number;
  /** Time from offer to durable, in milliseconds. */
  readonly durableLatency: {
    readonly p50: number;
    readonly p99: number;
    readonly max: number;
    readonly count: number;
  };
}

/** The gateways' producer: see the file's comment. */
export interface DurableIngest {
  /** Takes `record` if there is room; its promise resolves once the record is in the stream. */
  offer(record: IngestRecord): Admission;
  /** Waits for room, then takes `record`; resolves once it is in the stream, rejects when closed. */
  put(record: IngestRecord): Promise<void>;
  /** Resolves once there is room again (at once when there is). */
  whenRoom(): Promise<void>;
  readonly hasRoom: boolean;
  /** False after a request the stream did not answer, until one it answers. */
  readonly reachable: boolean;
  stats(): IngestStats;
  /**
   * Takes nothing more, waits up to `drainMs` for what it holds to become durable, then rejects what
   * is left (those records were never acknowledged) and stops.
   */
  close(drainMs?: number): Promise<void>;
}

/**
 * A record Kinesis would refuse, and with it the whole request it travelled in: over 1 MiB with its
 * key, or a partition key that is empty or longer than 256 characters (bytes here). Refused at `offer`, so that one
 * bad record cannot hold up every other.
 */
export class RecordRefusedError extends Error {
  override readonly name = 'RecordRefusedError';
}

/**
 * The longest partition key taken: Kinesis allows 256 characters; 256 UTF-8 bytes fit that however
 * they are counted.
 */
export const MAX_PARTITION_KEY_BYTES = 256;

/** The record in a lane, with the promise it settles. */
interface Item extends UserRecord {
  readonly bytes: number;
  readonly offeredAt: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

/** The records of one shard or partition key, oldest first; the head entry at most in flight. */
interface Lane {
  readonly key: string;
  readonly items: Item[];
  busy: boolean;
  attempts: number;
  notBefore: number;
}

const ROOM_AGAIN = 0.75;

/** A durable ingest onto one stream. */
export function durableIngest(options: DurableIngestOptions): DurableIngest {
  const limits: IngestLimits = { ...DEFAULT_INGEST_LIMITS, ...options.limits };
  const { client, streamName, clock, log } = options;
  const lanes = new Map<string, Lane>();
  /** The lane of a partition key: its shard, or the key itself before the shard map is known. */
  let laneOf: (partitionKey: string) => string = (key) => key;
  /** A new shard map waiting for the entries in flight to return before it is used. */
  let nextLaneOf: ((partitionKey: string) => string) | undefined;
  let shardMap = '';
  let shardMapAt = Number.NEGATIVE_INFINITY;
  let loadingShardMap = false;
  /** Lanes with records and no entry in flight, in the order they became ready (round robin). */
  const ready = new Map<string, Lane>();
  const aborts = new AbortController();
  const latency = new LatencyHistogram();
  let readyRecords = 0;
  let readyBytes = 0;
  let bufferedRecords = 0;
  let bufferedBytes = 0;
  let inFlight = 0;
  let closed = false;
  let reachable = true;
  let timer: NodeJS.Timeout | undefined;
  let timerAt = Number.POSITIVE_INFINITY;
  let roomWaiters: (() => void)[] = [];
  let drainWaiters: (() => void)[] = [];
  const counts = {
    recordsPut: 0,
    requests: 0,
    entriesFailed: 0,
    requestsFailed: 0,
    refused: 0,
    lastAnsweredAt: 0,
  };

  const hasRoom = () =>
    bufferedBytes < limits.maxBufferedBytes && bufferedRecords < limits.maxBufferedRecords;
  const roomAgain = () =>
    bufferedBytes <= limits.maxBufferedBytes * ROOM_AGAIN &&
    bufferedRecords <= limits.maxBufferedRecords * ROOM_AGAIN;

  const backoff = (attempts: number) =>
    Math.min(limits.maxRetryDelayMs, limits.initialRetryDelayMs * 2 ** Math.max(0, attempts - 1));

  const markReady = (lane: Lane) => {
    ready.set(lane.key, lane);
    for (const item of lane.items) {
      readyRecords++;
      readyBytes += item.bytes;
    }
  };

  /** Sends now when a full request waits, else when the linger (or the earliest backoff) ends. */
  const schedule = (delayMs?: number) => {
    if (closed && bufferedRecords === 0) return;
    const full = readyRecords >= PUT_RECORDS_LIMITS.records || readyBytes >= PUT_RECORDS_LIMITS.requestBytes;
    const wait = full ? 0 : (delayMs ?? limits.lingerMs);
    const at = clock.now() + wait;
    if (timer !== undefined && timerAt <= at) return;
    if (timer !== undefined) clearTimeout(timer);
    timerAt = at;
    timer = setTimeout(flush, wait);
  };

  /** Builds and sends requests from the ready lanes, as many as may be in flight. */
  function flush(): void {
    timer = undefined;
    timerAt = Number.POSITIVE_INFINITY;
    refreshShardMap();
    if (nextLaneOf !== undefined) {
      if (inFlight > 0) return; // the last entry in flight to return flushes again
      relane(nextLaneOf);
      nextLaneOf = undefined;
    }
    let earliest = Number.POSITIVE_INFINITY;
    while (inFlight < limits.maxInFlightRequests && ready.size > 0) {
      const now = clock.now();
      const lanesSent: Lane[] = [];
      const packedCounts: number[] = [];
      const entries: PutRecordsRequestEntry[] = [];
      let bytes = 0;
      for (const lane of ready.values()) {
        if (lane.notBefore > now) {
          earliest = Math.min(earliest, lane.notBefore);
          continue;
        }
        const packed = aggregatePrefix(lane.items, limits.aggregateBytes);
        const size = packed.record.data.byteLength + Buffer.byteLength(packed.record.partitionKey, 'utf8');
        if (entries.length === PUT_RECORDS_LIMITS.records || bytes + size > PUT_RECORDS_LIMITS.requestBytes)
          break;
        entries.push({ PartitionKey: packed.record.partitionKey, Data: packed.record.data });
        lanesSent.push(lane);
        packedCounts.push(packed.count);
        bytes += size;
      }
      if (entries.length === 0) break;
      for (const lane of lanesSent) {
        ready.delete(lane.key);
        lane.busy = true;
        for (const item of lane.items) {
          readyRecords--;
          readyBytes -= item.bytes;
        }
      }
      inFlight++;
      void send(entries, lanesSent, packedCounts);
    }
    if (ready.size > 0 && inFlight < limits.maxInFlightRequests && Number.isFinite(earliest))
      schedule(Math.max(0, earliest - clock.now()));
  }

  async function send(
    entries: PutRecordsRequestEntry[],
    sent: Lane[],
    packedCounts: number[],
  ): Promise<void> {
    counts.requests++;
    let failed: boolean[];
    try {
      const out = await client.send(new PutRecordsCommand({ StreamName: streamName, Records: entries }), {
        abortSignal: aborts.signal,
      });
      reachable = true;
      counts.lastAnsweredAt = clock.now();
      // Results are positional: an entry with an ErrorCode was not put.
      failed = entries.map(
        (_, i) => out.Records?.[i]?.ErrorCode !== undefined || out.Records?.[i] === undefined,
      );
    } catch (error) {
      counts.requestsFailed++;
      const answered = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (answered === undefined) reachable = false;
      else counts.lastAnsweredAt = clock.now();
      if (!aborts.signal.aborted)
        log?.warn(
          {
            stream: streamName,
            entries: entries.length,
            error: (error as Error).message,
            name: (error as Error).name,
          },
          'PutRecords failed; retrying its records',
        );
      failed = entries.map(() => true);
    }
    inFlight--;
    const now = clock.now();
    sent.forEach((lane, i) => {
      lane.busy = false;
      if (failed[i]) {
        counts.entriesFailed++;
        lane.attempts++;
        lane.notBefore = now + backoff(lane.attempts);
      } else {
        lane.attempts = 0;
        lane.notBefore = 0;
        for (const item of lane.items.splice(0, packedCounts[i])) {
          bufferedRecords--;
          bufferedBytes -= item.bytes;
          counts.recordsPut++;
          latency.add(now - item.offeredAt);
          item.resolve();
        }
      }
      if (lane.items.length > 0) markReady(lane);
      else lanes.delete(lane.key);
    });
    if (roomWaiters.length > 0 && roomAgain()) {
      const waiters = roomWaiters;
      roomWaiters = [];
      for (const wake of waiters) wake();
    }
    if (bufferedRecords === 0 && drainWaiters.length > 0) {
      const waiters = drainWaiters;
      drainWaiters = [];
      for (const wake of waiters) wake();
    }
    if (aborts.signal.aborted) return;
    if (nextLaneOf !== undefined && inFlight === 0) {
      flush();
      return;
    }
    // Whatever is ready goes after the linger (at once when a full request waits); when every entry
    // failed, not before the earliest of their backoffs.
    schedule(failed.every((f) => f) ? backoff(Math.min(...sent.map((l) => l.attempts))) : undefined);
  }

  function laneFor(key: string): Lane {
    let lane = lanes.get(key);
    if (lane === undefined) {
      lane = { key, items: [], busy: false, attempts: 0, notBefore: 0 };
      lanes.set(key, lane);
    }
    return lane;
  }

  /** Deals every waiting record to the lanes of `next`, each key's records in their order. */
  function relane(next: (partitionKey: string) => string): void {
    const old = [...lanes.values()];
    lanes.clear();
    ready.clear();
    readyRecords = 0;
    readyBytes = 0;
    laneOf = next;
    for (const lane of old)
      for (const item of lane.items) {
        const to = laneFor(laneOf(item.partitionKey));
        to.items.push(item);
        to.attempts = Math.max(to.attempts, lane.attempts);
        to.notBefore = Math.max(to.notBefore, lane.notBefore);
      }
    for (const lane of lanes.values()) markReady(lane);
  }

  /** Reads the shard map when it is due (in the background); a changed map waits for `flush`. */
  function refreshShardMap(): void {
    if (limits.lanes !== 'shard' || loadingShardMap || clock.now() - shardMapAt < limits.shardMapTtlMs)
      return;
    loadingShardMap = true;
    openShardRanges(client, streamName, aborts.signal).then(
      (ranges) => {
        loadingShardMap = false;
        shardMapAt = clock.now();
        const fingerprint = JSON.stringify(ranges);
        if (fingerprint === shardMap || ranges.length === 0) return;
        shardMap = fingerprint;
        nextLaneOf = shardRouter(ranges);
        schedule(0);
      },
      (error: unknown) => {
        loadingShardMap = false;
        // lanes stay as they are (per key until a map is known); tried again after a short while
        shardMapAt = clock.now() - limits.shardMapTtlMs + Math.min(limits.shardMapTtlMs, 5_000);
        if (!aborts.signal.aborted)
          log?.warn(
            { stream: streamName, error: (error as Error).message },
            'ListShards failed; lanes stay as they are',
          );
      },
    );
  }

  const take = (record: IngestRecord): Promise<void> => {
    const keyBytes = Buffer.byteLength(record.partitionKey, 'utf8');
    if (keyBytes === 0 || keyBytes > MAX_PARTITION_KEY_BYTES)
      throw new RecordRefusedError(
        `a partition key of ${keyBytes} bytes; Kinesis takes 1 to ${MAX_PARTITION_KEY_BYTES} characters`,
      );
    const bytes = record.data.byteLength + Buffer.byteLength(record.partitionKey, 'utf8');
    if (bytes > PUT_RECORDS_LIMITS.recordBytes)
      throw new RecordRefusedError(
        `a record of ${bytes} bytes with its key; a Kinesis record holds at most ${PUT_RECORDS_LIMITS.recordBytes}`,
      );
    return new Promise<void>((resolve, reject) => {
      const item: Item = {
        partitionKey: record.partitionKey,
        data: record.data,
        bytes,
        offeredAt: clock.now(),
        resolve,
        reject,
      };
      const lane = laneFor(laneOf(record.partitionKey));
      lane.items.push(item);
      bufferedRecords++;
      bufferedBytes += bytes;
      if (!lane.busy) {
        if (!ready.has(lane.key)) ready.set(lane.key, lane);
        readyRecords++;
        readyBytes += bytes;
      }
      schedule();
    });
  };

  const retryAfterMs = () => Math.max(1000, Math.ceil(backoff(1) * 10));

  const whenRoom = (): Promise<void> =>
    closed
      ? Promise.reject(new Error('the gateway is closing'))
      : hasRoom()
        ? Promise.resolve()
        : new Promise((resolve) => roomWaiters.push(resolve));

  return {
    offer(record) {
      if (closed) return { accepted: false, reason: 'closed', retryAfterMs: retryAfterMs() };
      if (!hasRoom()) {
        counts.refused++;
        return { accepted: false, reason: 'full', retryAfterMs: retryAfterMs() };
      }
      return { accepted: true, durable: take(record) };
    },
    async put(record) {
      while (!hasRoom()) await whenRoom();
      if (closed) throw new Error('the gateway is closing');
      return take(record);
    },
    whenRoom,
    get hasRoom() {
      return hasRoom();
    },
    get reachable() {
      return reachable;
    },
    stats: () => ({
      ...counts,
      bufferedRecords,
      bufferedBytes,
      inFlightRequests: inFlight,
      durableLatency: latency.summary(),
    }),
    async close(drainMs = 10_000) {
      closed = true;
      for (const wake of roomWaiters) wake();
      roomWaiters = [];
      if (bufferedRecords > 0) {
        const drained = new Promise<void>((resolve) => drainWaiters.push(resolve));
        const deadline = new AbortController();
        await Promise.race([drained, clock.sleep(drainMs, deadline.signal).catch(() => {})]);
        deadline.abort();
      }
      aborts.abort();
      if (timer !== undefined) clearTimeout(timer);
      const error = new Error('the gateway closed before the record was put');
      for (const lane of lanes.values()) for (const item of lane.items.splice(0)) item.reject(error);
      lanes.clear();
      ready.clear();
      bufferedRecords = 0;
      bufferedBytes = 0;
    },
  };
}
