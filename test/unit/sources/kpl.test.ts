import { createHash } from 'node:crypto';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { kplDeaggregation } from '../../../sources/kinesis/kplDeaggregation.ts';
import { deaggregate } from '../../../sources/kinesis/retrieval/kpl.ts';
import {
  ManualClock,
  MemorySource,
  type RawRecord,
  TopologyBuilder,
  TopologyTestDriver,
} from '../../../topology/index.ts';
import { rawRecord } from '../../support/records.ts';

// The KPL aggregation format's schema, encoded by a real protobuf implementation. `Extended*` adds
// fields the reader does not know (every wire type, a 64-bit varint), which it must skip.
const PROTO = `
message AggregatedRecord { repeated string partition_key_table = 1; repeated string explicit_hash_key_table = 2; repeated Record records = 3; }
message Record { required uint64 partition_key_index = 1; optional uint64 explicit_hash_key_index = 2; required bytes data = 3; repeated Tag tags = 4; }
message Tag { required string key = 1; optional string value = 2; }
message ExtendedAggregatedRecord {
  optional fixed64 future_fixed64 = 9; repeated string partition_key_table = 1; optional string future_text = 10;
  repeated ExtendedRecord records = 3; repeated string explicit_hash_key_table = 2;
}
message ExtendedRecord {
  optional uint64 future_varint = 7; required bytes data = 3; optional fixed32 future_fixed32 = 8;
  required uint64 partition_key_index = 1; optional uint64 explicit_hash_key_index = 2; repeated Tag tags = 4;
}
`;
const root = protobuf.parse(PROTO, { keepCase: true }).root;
const AggregatedRecord = root.lookupType('AggregatedRecord');
const ExtendedAggregatedRecord = root.lookupType('ExtendedAggregatedRecord');

const MAGIC = Uint8Array.of(0xf3, 0x89, 0x9a, 0xc2);
const text = (s: string) => new TextEncoder().encode(s);
const md5 = (bytes: Uint8Array) => createHash('md5').update(bytes).digest();

function encode(message: Record<string, unknown>, type = AggregatedRecord): Uint8Array {
  return type.encode(type.fromObject(message)).finish();
}

/**
 * Magic + protobuf + MD5 of the protobuf, as the KPL writes it: a plain `Uint8Array` (as the AWS SDK
 * returns) that starts inside its buffer, so offsets into the wrong base would show.
 */
function frame(body: Uint8Array, digest: Uint8Array = md5(body)): Uint8Array {
  const bytes = new Uint8Array(3 + MAGIC.length + body.length + digest.length).subarray(3);
  bytes.set(MAGIC);
  bytes.set(body, MAGIC.length);
  bytes.set(digest, MAGIC.length + body.length);
  return bytes;
}

const THREE_USER_RECORDS = {
  partition_key_table: ['device-a', 'device-b'],
  explicit_hash_key_table: ['170141183460469231731687303715884105728', '42'],
  records: [
    {
      partition_key_index: 0,
      explicit_hash_key_index: 1,
      data: text('one'),
      tags: [{ key: 'k', value: 'v' }],
    },
    { partition_key_index: 1, data: text('two') },
    {
      partition_key_index: 0,
      explicit_hash_key_index: 0,
      data: Uint8Array.of(0, 255, 7),
      tags: [{ key: 'x' }],
    },
  ],
};

/** A Kinesis record of shard 1 carrying `data`: an aggregate or a plain record. */
function raw(data: Uint8Array, extra: Partial<RawRecord> = {}): RawRecord {
  return rawRecord(data, {
    shardId: 'shardId-000000000001',
    partitionKey: 'outer-pk',
    arrivedAt: 1_700_000_000_500,
    ...extra,
  });
}

async function run(records: RawRecord[]) {
  const b = new TopologyBuilder('kpl');
  const input = b.source('kinesis', new MemorySource<RawRecord>());
  const users = input.via('kpl', kplDeaggregation());
  const out = users.to('out', { type: 'none', write: async () => {} });
  const dlq = users.side('dlq').to('dlq', { type: 'none', write: async () => {} });
  const driver = new TopologyTestDriver(b.build(), { clock: new ManualClock(1_700_000_009_000) });
  const position = driver.send(input, 's', records);
  await driver.settle();
  const result = { records: driver.output(out), deadLetters: driver.output(dlq) };
  await driver.close();
  return { ...result, position, released: driver.released(input, 's') };
}

describe('kpl-deaggregation', () => {
  it('splits an aggregate into its user records in order, with sub-sequence numbers 0..n-1', async () => {
    const before = raw(text('plain before'));
    const aggregated = raw(frame(encode(THREE_USER_RECORDS)));
    const after = raw(text('plain after'));
    const { records, deadLetters, position, released } = await run([before, aggregated, after]);

    expect(deadLetters).toEqual([]);
    expect(records).toHaveLength(5);
    expect(records[0]).toBe(before);
    expect(records[4]).toBe(after);
    const common = {
      stream: 'telemetry',
      shardId: 'shardId-000000000001',
      sequenceNumber: aggregated.sequenceNumber,
      arrivedAt: aggregated.arrivedAt,
    };
    expect(records.slice(1, 4)).toEqual([
      { ...common, subSequenceNumber: 0, partitionKey: 'device-a', data: text('one') },
      { ...common, subSequenceNumber: 1, partitionKey: 'device-b', data: text('two') },
      { ...common, subSequenceNumber: 2, partitionKey: 'device-a', data: Uint8Array.of(0, 255, 7) },
    ]);
    // The operator does not move the batch's source position: the checkpoint names the Kinesis record.
    expect(released).toEqual(position);
  });

  it('passes a record without the magic prefix through unchanged', async () => {
    const plain = raw(text('{"v":1}'));
    const { records, deadLetters } = await run([plain]);
    expect(records).toHaveLength(1);
    expect(records[0]).toBe(plain);
    expect(deadLetters).toEqual([]);
  });

  it('sends an aggregate whose MD5 does not match to dead letters, whole, and emits none of it', async () => {
    const good = frame(encode(THREE_USER_RECORDS));
    const bad = Uint8Array.from(good);
    bad[bad.length - 1]! ^= 0xff;
    const record = raw(bad, { subSequenceNumber: undefined });
    const { records, deadLetters } = await run([record]);

    expect(records).toEqual([]);
    expect(deadLetters).toEqual([
      {
        node: 'kpl',
        reason: 'corrupt KPL aggregate: MD5 digest does not match the protobuf bytes',
        stream: 'telemetry',
        shardId: 'shardId-000000000001',
        sequenceNumber: record.sequenceNumber,
        subSequenceNumber: undefined,
        payloadBase64: Buffer.from(bad).toString('base64'),
        failedAt: 1_700_000_009_000,
      },
    ]);
  });

  it('sends an aggregate with a truncated protobuf (and a matching MD5) to dead letters', async () => {
    const body = encode(THREE_USER_RECORDS);
    const { records, deadLetters } = await run([raw(frame(body.subarray(0, body.length - 2)))]);
    expect(records).toEqual([]);
    expect(deadLetters).toHaveLength(1);
    expect(deadLetters[0]!.reason).toMatch(/^corrupt KPL aggregate: .*runs past its message/);
  });

  // The KCL cannot tell such data from a user payload that happens to start with the magic bytes, and
  // it passes them on as ordinary records; so does shardflow, rather than dead-lettering them.
  it.each([
    ['the magic bytes alone', MAGIC],
    ['magic plus fewer than 16 bytes', Uint8Array.of(...MAGIC, ...new Uint8Array(15))],
    ['fewer bytes than the magic', MAGIC.subarray(0, 3)],
    ['no bytes', new Uint8Array(0)],
  ])('treats %s as a plain record', async (_, data) => {
    const plain = raw(data);
    const { records, deadLetters } = await run([plain]);
    expect(records).toEqual([plain]);
    expect(records[0]).toBe(plain);
    expect(deadLetters).toEqual([]);
  });
});

describe('deaggregate', () => {
  it('reads explicit hash keys and returns data as views into the record, not copies', () => {
    const data = frame(encode(THREE_USER_RECORDS));
    const result = deaggregate(data);
    if (result.kind !== 'aggregate') throw new Error(`expected an aggregate, got ${JSON.stringify(result)}`);
    expect(result.records.map((r) => [r.partitionKey, r.explicitHashKey])).toEqual([
      ['device-a', '42'],
      ['device-b', undefined],
      ['device-a', '170141183460469231731687303715884105728'],
    ]);
    expect('explicitHashKey' in result.records[1]!).toBe(false);
    for (const record of result.records) expect(record.data.buffer).toBe(data.buffer);
  });

  it('skips fields it does not know, of every wire type, in any order', () => {
    const body = encode(
      {
        future_fixed64: '18446744073709551615',
        future_text: 'later',
        records: [
          {
            future_varint: '18446744073709551615',
            future_fixed32: 7,
            data: text('x'),
            partition_key_index: 0,
            explicit_hash_key_index: 0,
          },
        ],
        partition_key_table: ['pk'],
        explicit_hash_key_table: ['99'],
      },
      ExtendedAggregatedRecord,
    );
    expect(deaggregate(frame(body))).toEqual({
      kind: 'aggregate',
      records: [{ partitionKey: 'pk', explicitHashKey: '99', data: text('x') }],
    });
  });

  it.each([
    [
      'a partition key index out of range',
      { partition_key_table: ['pk'], records: [{ partition_key_index: 1, data: text('x') }] },
      'record 0: partition_key_index 1 is out of range (table has 1)',
    ],
    [
      'a 64-bit partition key index',
      {
        partition_key_table: ['pk'],
        records: [{ partition_key_index: '18446744073709551615', data: text('x') }],
      },
      'partition_key_index 18446744073709552000 is out of range',
    ],
    [
      'an explicit hash key index out of range',
      {
        partition_key_table: ['pk'],
        records: [{ partition_key_index: 0, explicit_hash_key_index: 0, data: text('x') }],
      },
      'record 0: explicit_hash_key_index 0 is out of range (table has 0)',
    ],
    ['no user records', { partition_key_table: ['pk'] }, 'aggregate holds no user records'],
  ])('reports %s as corrupt', (_, message, reason) => {
    const result = deaggregate(frame(encode(message)));
    expect(result.kind).toBe('corrupt');
    expect(result.kind === 'corrupt' && result.reason).toContain(reason);
  });

  it('reports bytes that are not protobuf as corrupt', () => {
    expect(deaggregate(frame(Uint8Array.of(0x2b, 0x01)))).toEqual({
      kind: 'corrupt',
      reason: 'unsupported wire type 3',
    });
    expect(deaggregate(frame(Uint8Array.of(0x28, 0xff)))).toEqual({
      kind: 'corrupt',
      reason: 'truncated varint',
    });
    expect(deaggregate(frame(Uint8Array.of(0x28, ...new Array(10).fill(0xff), 0x01)))).toEqual({
      kind: 'corrupt',
      reason: 'varint longer than 64 bits',
    });
    expect(deaggregate(frame(Uint8Array.of(0x0a, 0x01, 0xff)))).toEqual({
      kind: 'corrupt',
      reason: 'string field is not UTF-8',
    });
  });
});
