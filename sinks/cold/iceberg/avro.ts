/**
 * Avro object container files for manifests and manifest lists. The header schema is written
 * verbatim (avsc's own export would drop or reorder Iceberg's `field-id` / `element-id` attributes),
 * values are encoded by avsc, and every Avro `long` is a bigint so 63-bit snapshot ids survive.
 */
import { randomBytes } from 'node:crypto';
import { deflateRawSync } from 'node:zlib';
import avro from 'avsc';

const MAGIC = Buffer.from([0x4f, 0x62, 0x6a, 0x01]);

/** Avro `long` as bigint (accepts numbers when writing). */
const bigintLong = avro.types.LongType.__with({
  fromBuffer: (buf: Buffer) => buf.readBigInt64LE(),
  toBuffer: (n: bigint | number) => {
    const buf = Buffer.alloc(8);
    buf.writeBigInt64LE(BigInt(n));
    return buf;
  },
  fromJSON: (v: unknown) => BigInt(v as number),
  toJSON: (n: bigint) => Number(n),
  isValid: (n: unknown) => typeof n === 'bigint' || (typeof n === 'number' && Number.isSafeInteger(n)),
  compare: (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0),
});

/** An avsc type for a schema, with bigint longs. */
function avroType(schema: unknown): avro.Type {
  return avro.Type.forSchema(schema as avro.Schema, { registry: { long: bigintLong } });
}

function zigzag(n: number): Buffer {
  return avroType('long').toBuffer(BigInt(n));
}

function bytesField(value: Buffer): Buffer {
  return Buffer.concat([zigzag(value.length), value]);
}

/** Writes an Avro container file (deflate) with the given schema JSON, metadata and records. */
export function writeAvroFile(
  schema: unknown,
  metadata: Readonly<Record<string, string>>,
  records: readonly unknown[],
): Uint8Array {
  const type = avroType(schema);
  const meta: Record<string, string> = {
    ...metadata,
    'avro.schema': JSON.stringify(schema),
    'avro.codec': 'deflate',
  };
  const entries = Object.entries(meta);
  const header = [MAGIC, zigzag(entries.length)];
  for (const [k, v] of entries)
    header.push(bytesField(Buffer.from(k, 'utf8')), bytesField(Buffer.from(v, 'utf8')));
  header.push(zigzag(0));
  const sync = randomBytes(16);
  const parts = [...header, sync];
  if (records.length > 0) {
    const block = deflateRawSync(Buffer.concat(records.map((r) => type.toBuffer(r))));
    parts.push(zigzag(records.length), zigzag(block.length), block, sync);
  }
  return Buffer.concat(parts);
}

/** A decoded Avro container file: its metadata (text), writer schema and records. */
export interface AvroFile<T> {
  readonly metadata: Readonly<Record<string, string>>;
  readonly schema: unknown;
  readonly records: T[];
}

/** Reads an Avro container file (null or deflate codec), longs as bigints. */
export function readAvroFile<T>(bytes: Uint8Array): Promise<AvroFile<T>> {
  return new Promise((resolve, reject) => {
    let metadata: Record<string, string> = {};
    let schema: unknown;
    const records: T[] = [];
    const decoder = new avro.streams.BlockDecoder({
      parseHook: (s: avro.Schema) => {
        schema = s;
        return avroType(s);
      },
    });
    decoder.on('metadata', (_type: unknown, _codec: string, header: { meta: Record<string, Buffer> }) => {
      metadata = Object.fromEntries(Object.entries(header.meta).map(([k, v]) => [k, v.toString('utf8')]));
    });
    decoder.on('data', (r: T) => records.push(r));
    decoder.on('error', reject);
    decoder.on('end', () => resolve({ metadata, schema, records }));
    decoder.end(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  });
}
