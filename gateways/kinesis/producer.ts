/**
 * Writes ingest envelopes to a Kinesis stream with PutRecords, the way a gateway does: JSON-encoded,
 * partitioned by device so one device's readings stay in one shard, in requests of at most 500
 * records and 5 MiB. A partial failure (throttled or failed entries) retries only the failed
 * entries, with capped exponential backoff on the injected clock. Retried entries land after
 * entries of the same request that succeeded, as with any Kinesis producer that retries.
 */
import {
  type KinesisClient,
  ListShardsCommand,
  PutRecordsCommand,
  type PutRecordsRequestEntry,
} from '@aws-sdk/client-kinesis';
import type { Clock, IngestEnvelope, Logger } from '../../topology/index.ts';
import {
  aggregateRecords,
  DEFAULT_AGGREGATE_BYTES,
  type ShardHashRange,
  shardRouter,
} from './kplAggregation.ts';

/** PutRecords limits: records per request, bytes per request, bytes per record (data + key). */
export const PUT_RECORDS_LIMITS = { records: 500, requestBytes: 5 * 1024 * 1024, recordBytes: 1024 * 1024 };

/** What a producer needs. */
export interface KinesisProducerOptions {
  readonly client: KinesisClient;
  readonly clock: Clock;
  readonly streamName: string;
  readonly log?: Logger;
  /** Retries of failed entries before giving up (default 10). */
  readonly maxRetries?: number;
  readonly initialDelayMs?: number;
  readonly maxDelayMs?: number;
  /** The partition key of an envelope; default: the device id from the MQTT topic. */
  readonly partitionKey?: (envelope: IngestEnvelope) => string;
  readonly signal?: AbortSignal;
  /**
   * Pack records into KPL aggregates (grouped by the shard their key hashes to, from ListShards,
   * refreshed every `shardMapTtlMs`) instead of one Kinesis record each. Default: off.
   */
  readonly aggregation?: { readonly maxBytes?: number; readonly shardMapTtlMs?: number };
}

/** One record to put: its partition key and bytes. */
export interface ProducerRecord {
  readonly partitionKey: string;
  readonly data: Uint8Array;
}

/** Puts records on a stream in PutRecords batches. */
export interface KinesisProducer {
  /** Puts envelopes (JSON-encoded); resolves with how many were put. */
  put(envelopes: readonly IngestEnvelope[]): Promise<number>;
  /** Puts already-encoded records; resolves with how many were put. */
  putRecords(records: readonly ProducerRecord[]): Promise<number>;
  /** Records put by this producer so far (user records, when aggregating). */
  readonly recordsPut: number;
}

/** Device id from `devices/{id}/telemetry` (hub topics give the hub), else the source, else the topic. */
export function devicePartitionKey(envelope: IngestEnvelope): string {
  const topic = envelope.topic ?? '';
  if (topic.startsWith('devices/')) {
    const end = topic.indexOf('/', 8);
    return topic.slice(8, end === -1 ? undefined : end);
  }
  return envelope.source ?? (topic || 'unknown');
}

const encoder = new TextEncoder();
const THROTTLED = new Set(['ProvisionedThroughputExceededException', 'LimitExceededException']);

/** Splits records into PutRecords requests within the count and size limits. */
function putRecordsBatches(records: readonly ProducerRecord[]): ProducerRecord[][] {
  const batches: ProducerRecord[][] = [];
  let current: ProducerRecord[] = [];
  let bytes = 0;
  for (const record of records) {
    const size = record.data.byteLength + Buffer.byteLength(record.partitionKey, 'utf8');
    if (size > PUT_RECORDS_LIMITS.recordBytes) {
      throw new Error(
        `record for key "${record.partitionKey}" is ${size} bytes; Kinesis takes at most 1 MiB`,
      );
    }
    if (current.length === PUT_RECORDS_LIMITS.records || bytes + size > PUT_RECORDS_LIMITS.requestBytes) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(record);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/** A PutRecords producer for one stream. */
export function kinesisProducer(options: KinesisProducerOptions): KinesisProducer {
  const { client, clock, streamName, signal } = options;
  const maxRetries = options.maxRetries ?? 10;
  const initialDelayMs = options.initialDelayMs ?? 100;
  const maxDelayMs = options.maxDelayMs ?? 5000;
  const keyOf = options.partitionKey ?? devicePartitionKey;
  let recordsPut = 0;

  /** Entries to put, each with the number of user records it carries. */
  type Pending = { entry: PutRecordsRequestEntry; records: number };
  const send = async (pending: Pending[]): Promise<Pending[]> => {
    try {
      const out = await client.send(
        new PutRecordsCommand({ StreamName: streamName, Records: pending.map((p) => p.entry) }),
        { abortSignal: signal },
      );
      if (!out.FailedRecordCount) return [];
      // Results are positional: the entries whose result has an ErrorCode are the ones to resend.
      return pending.filter((_, i) => out.Records?.[i]?.ErrorCode !== undefined);
    } catch (error) {
      const name = error instanceof Error ? error.name : '';
      if (THROTTLED.has(name)) return pending; // the whole request was throttled: resend all of it
      throw error;
    }
  };

  const putBatch = async (batch: readonly ProducerRecord[], counts: ReadonlyMap<ProducerRecord, number>) => {
    let pending: Pending[] = batch.map((r) => ({
      entry: { PartitionKey: r.partitionKey, Data: r.data },
      records: counts.get(r) ?? 1,
    }));
    const sum = (entries: readonly Pending[]) => entries.reduce((n, p) => n + p.records, 0);
    for (let attempt = 0; ; attempt++) {
      const failed = await send(pending);
      recordsPut += sum(pending) - sum(failed);
      if (failed.length === 0) return;
      if (attempt >= maxRetries) {
        throw new Error(`${sum(failed)} records not put to ${streamName} after ${maxRetries} retries`);
      }
      const delayMs = Math.min(maxDelayMs, initialDelayMs * 2 ** attempt);
      options.log?.debug(
        { stream: streamName, failed: failed.length, delayMs },
        'put partly failed; retrying',
      );
      await clock.sleep(delayMs, signal);
      pending = failed;
    }
  };

  const aggregation = options.aggregation;
  let shardMap: { router: (key: string) => string; loadedAt: number } | undefined;
  const routerNow = async (): Promise<(key: string) => string> => {
    const ttl = aggregation?.shardMapTtlMs ?? 60_000;
    if (shardMap === undefined || clock.now() - shardMap.loadedAt >= ttl) {
      shardMap = {
        router: shardRouter(await openShardRanges(client, streamName, signal)),
        loadedAt: clock.now(),
      };
    }
    return shardMap.router;
  };

  const putRecords = async (records: readonly ProducerRecord[]): Promise<number> => {
    const before = recordsPut;
    const counts = new Map<ProducerRecord, number>();
    let entries = records;
    if (aggregation !== undefined) {
      const packed = aggregateRecords(
        records,
        await routerNow(),
        aggregation.maxBytes ?? DEFAULT_AGGREGATE_BYTES,
      );
      for (const p of packed) if (p.count > 1) counts.set(p.record, p.count);
      entries = packed.map((p) => p.record);
    }
    for (const batch of putRecordsBatches(entries)) await putBatch(batch, counts);
    return recordsPut - before;
  };

  return {
    put: (envelopes) =>
      putRecords(envelopes.map((e) => ({ partitionKey: keyOf(e), data: encoder.encode(JSON.stringify(e)) }))),
    putRecords,
    get recordsPut() {
      return recordsPut;
    },
  };
}

/** The stream's open shards' hash key ranges (closed parents are left out). */
export async function openShardRanges(
  client: KinesisClient,
  streamName: string,
  signal?: AbortSignal,
): Promise<ShardHashRange[]> {
  const ranges: ShardHashRange[] = [];
  let nextToken: string | undefined;
  do {
    const page = await client.send(
      new ListShardsCommand(nextToken === undefined ? { StreamName: streamName } : { NextToken: nextToken }),
      { abortSignal: signal },
    );
    for (const shard of page.Shards ?? []) {
      if (shard.SequenceNumberRange?.EndingSequenceNumber !== undefined) continue;
      ranges.push({
        shardId: shard.ShardId ?? '',
        startingHashKey: shard.HashKeyRange?.StartingHashKey ?? '0',
        endingHashKey: shard.HashKeyRange?.EndingHashKey ?? '0',
      });
    }
    nextToken = page.NextToken;
  } while (nextToken !== undefined);
  return ranges;
}
