/**
 * Writes the Kinesis Producer Library's aggregation format, so a gateway can pack many small device
 * records into one Kinesis record as the KPL does: 4 magic bytes `F3 89 9A C2`, a protobuf
 * `AggregatedRecord`, then the MD5 digest of the protobuf bytes. The reader is
 * `sources/kinesis/retrieval/kpl.ts`; the schema:
 *
 * ```proto
 * message AggregatedRecord { repeated string partition_key_table = 1; repeated string explicit_hash_key_table = 2; repeated Record records = 3; }
 * message Record { required uint64 partition_key_index = 1; optional uint64 explicit_hash_key_index = 2; required bytes data = 3; repeated Tag tags = 4; }
 * ```
 *
 * Kinesis routes an aggregate by its own partition key, so only user records bound for the same shard
 * may share one: records are grouped by the shard their partition key hashes to (MD5 as a 128-bit
 * number within the shard's hash key range), and each aggregate takes its first user record's key.
 * A device's records therefore stay in its shard, in order, exactly as without aggregation.
 */
import { createHash } from 'node:crypto';
import { type HashKeyRange, hashKeyOf } from '../../topology/index.ts';

/** Aggregation format constants. */
const MAGIC = Uint8Array.of(0xf3, 0x89, 0x9a, 0xc2);
const DIGEST_LENGTH = 16;
const FIELD_PARTITION_KEY_TABLE = (1 << 3) | 2;
const FIELD_RECORDS = (3 << 3) | 2;
const FIELD_PARTITION_KEY_INDEX = (1 << 3) | 0;
const FIELD_DATA = (3 << 3) | 2;

/** Partition keys whose shard a router remembers. */
const ROUTE_MEMO_KEYS = 200_000;

/** The KPL's default upper bound for an aggregate's size (`AggregationMaxSize`). */
export const DEFAULT_AGGREGATE_BYTES = 51_200;

/** One user record: the partition key and bytes a producer would have put on its own. */
export interface UserRecord {
  readonly partitionKey: string;
  readonly data: Uint8Array;
}

/** A Kinesis record to put and how many user records it carries (1 when it is not an aggregate). */
export interface PackedRecord {
  readonly record: UserRecord;
  readonly count: number;
}

/** An open shard's hash key range, inclusive, as ListShards gives it (decimal strings). */
export interface ShardHashRange extends HashKeyRange {
  readonly shardId: string;
}

/** Finds the shard whose hash key range holds a partition key's hash. */
export function shardRouter(ranges: readonly ShardHashRange[]): (partitionKey: string) => string {
  if (ranges.length === 0) throw new Error('no open shard to aggregate for');
  const sorted = ranges
    .map((r) => ({ shardId: r.shardId, start: BigInt(r.startingHashKey), end: BigInt(r.endingHashKey) }))
    .sort((a, b) => (a.start < b.start ? -1 : 1));
  // devices repeat: remember each key's shard (bounded; a full memo starts over)
  const memo = new Map<string, string>();
  const route = (partitionKey: string): string => {
    const hash = hashKeyOf(partitionKey);
    let lo = 0;
    let hi = sorted.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (sorted[mid]!.start <= hash) lo = mid;
      else hi = mid - 1;
    }
    const shard = sorted[lo]!;
    if (hash < shard.start || hash > shard.end) {
      throw new Error(`partition key "${partitionKey}" hashes outside every open shard's range`);
    }
    return shard.shardId;
  };
  return (partitionKey) => {
    let shardId = memo.get(partitionKey);
    if (shardId === undefined) {
      shardId = route(partitionKey);
      if (memo.size >= ROUTE_MEMO_KEYS) memo.clear();
      memo.set(partitionKey, shardId);
    }
    return shardId;
  };
}

function varintLength(value: number): number {
  let length = 1;
  for (let v = value; v >= 0x80; v = Math.floor(v / 128)) length++;
  return length;
}

class ProtoWriter {
  readonly bytes: Uint8Array;
  pos = 0;

  constructor(size: number) {
    this.bytes = new Uint8Array(size);
  }

  varint(value: number): void {
    let v = value;
    while (v >= 0x80) {
      this.bytes[this.pos++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    this.bytes[this.pos++] = v;
  }

  lengthDelimited(field: number, payload: Uint8Array): void {
    this.varint(field);
    this.varint(payload.byteLength);
    this.bytes.set(payload, this.pos);
    this.pos += payload.byteLength;
  }
}

/** Size of one `Record` message's body: its key index and data. */
function recordBodyLength(keyIndex: number, data: Uint8Array): number {
  return 1 + varintLength(keyIndex) + 1 + varintLength(data.byteLength) + data.byteLength;
}

/** Builds one aggregate of user records bound for one shard, growing until a size bound. */
class AggregateBuilder {
  private readonly keys = new Map<string, number>();
  private readonly keyBytes: Buffer[] = [];
  private readonly records: { keyIndex: number; data: Uint8Array }[] = [];
  private protoBytes = 0;

  get count(): number {
    return this.records.length;
  }

  /** Bytes the aggregate would have on the wire with `record` added. */
  sizeWith(record: UserRecord): number {
    let added = 0;
    let keyIndex = this.keys.get(record.partitionKey);
    if (keyIndex === undefined) {
      keyIndex = this.keys.size;
      const length = Buffer.byteLength(record.partitionKey, 'utf8');
      added += 1 + varintLength(length) + length;
    }
    const body = recordBodyLength(keyIndex, record.data);
    added += 1 + varintLength(body) + body;
    return MAGIC.length + this.protoBytes + added + DIGEST_LENGTH;
  }

  add(record: UserRecord): void {
    let keyIndex = this.keys.get(record.partitionKey);
    if (keyIndex === undefined) {
      keyIndex = this.keys.size;
      this.keys.set(record.partitionKey, keyIndex);
      const key = Buffer.from(record.partitionKey, 'utf8');
      this.keyBytes.push(key);
      this.protoBytes += 1 + varintLength(key.byteLength) + key.byteLength;
    }
    const body = recordBodyLength(keyIndex, record.data);
    this.protoBytes += 1 + varintLength(body) + body;
    this.records.push({ keyIndex, data: record.data });
  }

  /** The aggregate as a Kinesis record: the first user record's partition key, framed bytes. */
  build(): UserRecord {
    const proto = new ProtoWriter(this.protoBytes);
    for (const key of this.keyBytes) proto.lengthDelimited(FIELD_PARTITION_KEY_TABLE, key);
    for (const { keyIndex, data } of this.records) {
      proto.varint(FIELD_RECORDS);
      proto.varint(recordBodyLength(keyIndex, data));
      proto.varint(FIELD_PARTITION_KEY_INDEX);
      proto.varint(keyIndex);
      proto.lengthDelimited(FIELD_DATA, data);
    }
    const digest = createHash('md5').update(proto.bytes).digest();
    const framed = new Uint8Array(MAGIC.length + proto.bytes.byteLength + DIGEST_LENGTH);
    framed.set(MAGIC);
    framed.set(proto.bytes, MAGIC.length);
    framed.set(digest, MAGIC.length + proto.bytes.byteLength);
    return { partitionKey: this.keyBytes.length > 0 ? this.keyBytes[0]!.toString('utf8') : '', data: framed };
  }
}

/**
 * Packs the longest prefix of `records` that fits in one aggregate of at most `maxBytes` (at least the
 * first record, put on its own when it is too large to share one). For callers that must keep a key's
 * records in one Kinesis record, so that they are put, or fail, together.
 */
export function aggregatePrefix(
  records: readonly UserRecord[],
  maxBytes: number = DEFAULT_AGGREGATE_BYTES,
): PackedRecord {
  const first = records[0];
  if (first === undefined) throw new Error('nothing to aggregate');
  const builder = new AggregateBuilder();
  if (records.length === 1 || builder.sizeWith(first) > maxBytes) return { record: first, count: 1 };
  for (const record of records) {
    if (builder.count > 0 && builder.sizeWith(record) > maxBytes) break;
    builder.add(record);
  }
  return builder.count === 1
    ? { record: first, count: 1 }
    : { record: builder.build(), count: builder.count };
}

/**
 * Packs user records into KPL aggregates of at most `maxBytes` each (data plus framing), one group per
 * shard, keeping each shard's records in their given order. A record too large to share an aggregate
 * is put on its own, unaggregated, as the KPL does.
 */
export function aggregateRecords(
  records: readonly UserRecord[],
  shardOf: (partitionKey: string) => string,
  maxBytes: number = DEFAULT_AGGREGATE_BYTES,
): PackedRecord[] {
  const out: PackedRecord[] = [];
  const open = new Map<string, AggregateBuilder>();
  for (const record of records) {
    const shard = shardOf(record.partitionKey);
    let builder = open.get(shard);
    if (builder !== undefined && builder.sizeWith(record) > maxBytes) {
      out.push({ record: builder.build(), count: builder.count });
      builder = undefined;
    }
    if (builder === undefined) {
      builder = new AggregateBuilder();
      if (builder.sizeWith(record) > maxBytes) {
        open.delete(shard);
        out.push({ record, count: 1 });
        continue;
      }
      open.set(shard, builder);
    }
    builder.add(record);
  }
  for (const builder of open.values()) out.push({ record: builder.build(), count: builder.count });
  return out;
}
