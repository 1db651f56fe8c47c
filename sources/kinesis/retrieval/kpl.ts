/**
 * Reads KPL-aggregated Kinesis records (the Kinesis Producer Library's aggregation format): 4 magic
 * bytes `F3 89 9A C2`, a protobuf `AggregatedRecord`, then the 16-byte MD5 digest of the protobuf
 * bytes. The protobuf reader is hand-written because the format has three small messages and the
 * hot path must not allocate per field:
 *
 * ```proto
 * message AggregatedRecord { repeated string partition_key_table = 1; repeated string explicit_hash_key_table = 2; repeated Record records = 3; }
 * message Record { required uint64 partition_key_index = 1; optional uint64 explicit_hash_key_index = 2; required bytes data = 3; repeated Tag tags = 4; }
 * ```
 *
 * Tags are skipped. User record data are views into the Kinesis record's bytes, not copies.
 */
import { createHash } from 'node:crypto';

/** One user record of an aggregate. */
export interface KplUserRecord {
  readonly partitionKey: string;
  readonly explicitHashKey?: string;
  /** A view into the aggregated record's bytes. */
  readonly data: Uint8Array;
}

/**
 * What a Kinesis record's data hold: not an aggregate (`plain`), an aggregate's user records in
 * order, or an aggregate that cannot be read (`corrupt`, with the reason).
 */
export type KplResult =
  | { readonly kind: 'plain' }
  | { readonly kind: 'aggregate'; readonly records: KplUserRecord[] }
  | { readonly kind: 'corrupt'; readonly reason: string };

const MAGIC_0 = 0xf3;
const MAGIC_1 = 0x89;
const MAGIC_2 = 0x9a;
const MAGIC_3 = 0xc2;
const MAGIC_LENGTH = 4;
const DIGEST_LENGTH = 16;

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LENGTH_DELIMITED = 2;
const WIRE_FIXED32 = 5;

const PLAIN: KplResult = { kind: 'plain' };
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Bytes that are not a well-formed protobuf message of the aggregation format. */
class ProtobufError extends Error {}

/** A cursor over protobuf wire-format bytes in `[pos, end)` of `buf`. */
class WireReader {
  pos: number;
  end: number;
  /** Wire type of the field key last read by {@link field}. */
  wireType = 0;

  constructor(
    readonly buf: Uint8Array,
    start: number,
    end: number,
  ) {
    this.pos = start;
    this.end = end;
  }

  done(): boolean {
    return this.pos >= this.end;
  }

  /**
   * An unsigned varint of up to 64 bits, as a number. Values above 2^53 lose precision, which is
   * harmless here: they are indices or lengths, and any such value is out of range anyway.
   */
  varint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new ProtobufError('truncated varint');
      const byte = this.buf[this.pos++]!;
      if (i === 9 && byte > 1) throw new ProtobufError('varint longer than 64 bits');
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 128;
    }
    throw new ProtobufError('varint longer than 64 bits');
  }

  /** Reads a field key: returns the field number and leaves its wire type in `wireType`. */
  field(): number {
    const key = this.varint();
    const field = Math.floor(key / 8);
    if (field === 0) throw new ProtobufError('field number 0');
    this.wireType = key % 8;
    return field;
  }

  /** Moves past a length-delimited field (length prefix next) and returns where its bytes start. */
  lengthDelimited(): number {
    const length = this.varint();
    if (length > this.end - this.pos) throw new ProtobufError('length-delimited field runs past its message');
    const start = this.pos;
    this.pos += length;
    return start;
  }

  /** A length-delimited UTF-8 string. */
  string(): string {
    const start = this.lengthDelimited();
    try {
      return utf8.decode(this.buf.subarray(start, this.pos));
    } catch {
      throw new ProtobufError('string field is not UTF-8');
    }
  }

  /** Skips a field's value by wire type; groups (3, 4) are not used by the format and are rejected. */
  skip(wireType: number): void {
    switch (wireType) {
      case WIRE_VARINT:
        this.varint();
        return;
      case WIRE_FIXED64:
        this.advance(8);
        return;
      case WIRE_LENGTH_DELIMITED:
        this.lengthDelimited();
        return;
      case WIRE_FIXED32:
        this.advance(4);
        return;
      default:
        throw new ProtobufError(`unsupported wire type ${wireType}`);
    }
  }

  private advance(bytes: number): void {
    if (bytes > this.end - this.pos) throw new ProtobufError('truncated fixed-width field');
    this.pos += bytes;
  }
}

function expectWireType(actual: number, expected: number, what: string): void {
  if (actual !== expected) throw new ProtobufError(`${what} has wire type ${actual}, expected ${expected}`);
}

/** Parsed `Record` fields, kept as indices until both key tables have been read. */
interface PendingRecord {
  partitionKeyIndex: number;
  explicitHashKeyIndex: number;
  data: Uint8Array;
}

/** Reads the `Record` message in `[reader.pos, end)`; leaves the reader at `end`. */
function readRecord(reader: WireReader, end: number, index: number): PendingRecord {
  const outerEnd = reader.end;
  reader.end = end;
  let partitionKeyIndex = -1;
  let explicitHashKeyIndex = -1;
  let data: Uint8Array | undefined;
  while (!reader.done()) {
    const field = reader.field();
    const wireType = reader.wireType;
    if (field === 1) {
      expectWireType(wireType, WIRE_VARINT, 'partition_key_index');
      partitionKeyIndex = reader.varint();
    } else if (field === 2) {
      expectWireType(wireType, WIRE_VARINT, 'explicit_hash_key_index');
      explicitHashKeyIndex = reader.varint();
    } else if (field === 3) {
      expectWireType(wireType, WIRE_LENGTH_DELIMITED, 'data');
      const start = reader.lengthDelimited();
      data = reader.buf.subarray(start, reader.pos);
    } else {
      reader.skip(wireType);
    }
  }
  reader.end = outerEnd;
  if (partitionKeyIndex < 0) throw new ProtobufError(`record ${index} has no partition_key_index`);
  if (data === undefined) throw new ProtobufError(`record ${index} has no data`);
  return { partitionKeyIndex, explicitHashKeyIndex, data };
}

function readAggregate(buf: Uint8Array, start: number, end: number): KplUserRecord[] {
  const reader = new WireReader(buf, start, end);
  const partitionKeys: string[] = [];
  const explicitHashKeys: string[] = [];
  const pending: PendingRecord[] = [];
  while (!reader.done()) {
    const field = reader.field();
    const wireType = reader.wireType;
    if (field === 1) {
      expectWireType(wireType, WIRE_LENGTH_DELIMITED, 'partition_key_table');
      partitionKeys.push(reader.string());
    } else if (field === 2) {
      expectWireType(wireType, WIRE_LENGTH_DELIMITED, 'explicit_hash_key_table');
      explicitHashKeys.push(reader.string());
    } else if (field === 3) {
      expectWireType(wireType, WIRE_LENGTH_DELIMITED, 'records');
      const recordStart = reader.lengthDelimited();
      const recordEnd = reader.pos;
      reader.pos = recordStart;
      pending.push(readRecord(reader, recordEnd, pending.length));
    } else {
      reader.skip(wireType);
    }
  }
  if (pending.length === 0) throw new ProtobufError('aggregate holds no user records');

  // The tables may follow the records on the wire, so indices are resolved only now.
  const records: KplUserRecord[] = new Array(pending.length);
  for (let i = 0; i < pending.length; i++) {
    const record = pending[i]!;
    const partitionKey = partitionKeys[record.partitionKeyIndex];
    if (partitionKey === undefined) {
      throw new ProtobufError(
        `record ${i}: partition_key_index ${record.partitionKeyIndex} is out of range (table has ${partitionKeys.length})`,
      );
    }
    if (record.explicitHashKeyIndex < 0) {
      records[i] = { partitionKey, data: record.data };
      continue;
    }
    const explicitHashKey = explicitHashKeys[record.explicitHashKeyIndex];
    if (explicitHashKey === undefined) {
      throw new ProtobufError(
        `record ${i}: explicit_hash_key_index ${record.explicitHashKeyIndex} is out of range (table has ${explicitHashKeys.length})`,
      );
    }
    records[i] = { partitionKey, explicitHashKey, data: record.data };
  }
  return records;
}

/**
 * Splits a Kinesis record's data into its KPL user records. Data without the magic prefix, or too
 * short to hold the prefix and a digest, are `plain`, as the KCL treats them.
 */
export function deaggregate(data: Uint8Array): KplResult {
  if (
    data.length < MAGIC_LENGTH + DIGEST_LENGTH ||
    data[0] !== MAGIC_0 ||
    data[1] !== MAGIC_1 ||
    data[2] !== MAGIC_2 ||
    data[3] !== MAGIC_3
  ) {
    return PLAIN;
  }
  const digestStart = data.length - DIGEST_LENGTH;
  const digest = createHash('md5').update(data.subarray(MAGIC_LENGTH, digestStart)).digest();
  if (!digest.equals(data.subarray(digestStart))) {
    return { kind: 'corrupt', reason: 'MD5 digest does not match the protobuf bytes' };
  }
  try {
    return { kind: 'aggregate', records: readAggregate(data, MAGIC_LENGTH, digestStart) };
  } catch (error) {
    if (error instanceof ProtobufError) return { kind: 'corrupt', reason: error.message };
    throw error;
  }
}
