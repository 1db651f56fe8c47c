/**
 * The producer's KPL aggregation: what it writes is read back by shardflow's own reader and by an
 * independent protobuf implementation (protobufjs), and records are grouped by the shard their key
 * hashes to.
 */
import { createHash } from 'node:crypto';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import {
  aggregateRecords,
  type ShardHashRange,
  shardRouter,
  type UserRecord,
} from '../../../gateways/kinesis/kplAggregation.ts';
import { deaggregate } from '../../../sources/kinesis/retrieval/kpl.ts';
import { hashKeyOf } from '../../../topology/index.ts';

const PROTO = `
message AggregatedRecord { repeated string partition_key_table = 1; repeated string explicit_hash_key_table = 2; repeated Record records = 3; }
message Record { required uint64 partition_key_index = 1; optional uint64 explicit_hash_key_index = 2; required bytes data = 3; }
`;
const AggregatedRecord = protobuf.parse(PROTO, { keepCase: true }).root.lookupType('AggregatedRecord');
const MAX_HASH = 2n ** 128n - 1n;
const text = (s: string) => new TextEncoder().encode(s);

/** `n` shards splitting the hash key space evenly, as CreateStream does. */
function evenShards(n: number): ShardHashRange[] {
  const width = (MAX_HASH + 1n) / BigInt(n);
  return Array.from({ length: n }, (_, i) => ({
    shardId: `shardId-${String(i).padStart(12, '0')}`,
    startingHashKey: (width * BigInt(i)).toString(),
    endingHashKey: (i === n - 1 ? MAX_HASH : width * BigInt(i + 1) - 1n).toString(),
  }));
}

function users(count: number): UserRecord[] {
  return Array.from({ length: count }, (_, i) => ({
    partitionKey: `device-${i % 37}`,
    data: text(`{"i":${i},"payload":"${'x'.repeat(i % 50)}"}`),
  }));
}

describe('KPL aggregation', () => {
  it("writes aggregates that shardflow's reader and protobufjs both read back, in order", () => {
    const input = users(500);
    const packed = aggregateRecords(input, () => 'one-shard', 4096);
    expect(packed.length).toBeGreaterThan(1);
    expect(packed.reduce((n, p) => n + p.count, 0)).toBe(500);
    const fromReader: string[] = [];
    const fromProtobufjs: string[] = [];
    for (const { record, count } of packed) {
      expect(record.data.byteLength).toBeLessThanOrEqual(4096);
      const result = deaggregate(record.data);
      if (result.kind !== 'aggregate') throw new Error(`not an aggregate: ${result.kind}`);
      expect(result.records).toHaveLength(count);
      expect(record.partitionKey).toBe(result.records[0]!.partitionKey);
      for (const r of result.records) fromReader.push(`${r.partitionKey} ${Buffer.from(r.data)}`);

      const body = record.data.subarray(4, record.data.byteLength - 16);
      expect(Buffer.from(record.data.subarray(0, 4))).toEqual(Buffer.from([0xf3, 0x89, 0x9a, 0xc2]));
      expect(Buffer.from(record.data.subarray(-16))).toEqual(createHash('md5').update(body).digest());
      const message = AggregatedRecord.toObject(AggregatedRecord.decode(body), { longs: Number }) as {
        partition_key_table: string[];
        records: { partition_key_index: number; data: Uint8Array }[];
      };
      for (const r of message.records) {
        fromProtobufjs.push(`${message.partition_key_table[r.partition_key_index]} ${Buffer.from(r.data)}`);
      }
    }
    const expected = input.map((r) => `${r.partitionKey} ${Buffer.from(r.data)}`);
    expect(fromReader).toEqual(expected);
    expect(fromProtobufjs).toEqual(expected);
  });

  it('puts only records of one shard in an aggregate, keyed so Kinesis routes it to that shard', () => {
    const shards = evenShards(4);
    const shardOf = shardRouter(shards);
    const packed = aggregateRecords(users(2000), shardOf, 2048);
    const seen = new Set<string>();
    for (const { record } of packed) {
      const result = deaggregate(record.data);
      if (result.kind !== 'aggregate') throw new Error('not an aggregate');
      const target = shardOf(record.partitionKey);
      for (const r of result.records) expect(shardOf(r.partitionKey)).toBe(target);
      seen.add(target);
    }
    expect(seen.size).toBe(4);
  });

  it('routes a key by the MD5 of its UTF-8 bytes within the inclusive hash key ranges', () => {
    const shards = evenShards(2);
    const shardOf = shardRouter(shards);
    const hash = hashKeyOf('device-1');
    expect(hash).toBe(BigInt(`0x${createHash('md5').update('device-1').digest('hex')}`));
    expect(shardOf('device-1')).toBe(hash < (MAX_HASH + 1n) / 2n ? shards[0]!.shardId : shards[1]!.shardId);
    expect(() =>
      shardRouter([{ shardId: 'a', startingHashKey: '0', endingHashKey: '10' }])('device-1'),
    ).toThrow(/outside every open shard/);
  });

  it("puts a record too large to share an aggregate on its own, after the shard's earlier records", () => {
    const big = { partitionKey: 'device-1', data: new Uint8Array(3000) };
    const packed = aggregateRecords([...users(3), big, ...users(2)], () => 's', 1024);
    expect(packed.map((p) => p.count)).toEqual([3, 1, 2]);
    expect(packed[1]!.record).toBe(big);
  });
});
