/**
 * Where Kinesis puts a partition key: the MD5 of its UTF-8 bytes, read as a 128-bit unsigned
 * integer, falls in exactly one open shard's hash key range. Keyed state follows its keys across a
 * split or merge by the same rule.
 */
import { createHash } from 'node:crypto';
import type { HashKeyRange } from './components.ts';

/** The 128-bit hash Kinesis computes from a partition key to choose its shard. */
export function hashKeyOf(partitionKey: string): bigint {
  return BigInt(`0x${createHash('md5').update(partitionKey, 'utf8').digest('hex')}`);
}

/** Whether a hash falls in a shard's hash key range (both ends inclusive). */
export function inHashRange(hash: bigint, range: HashKeyRange): boolean {
  return BigInt(range.startingHashKey) <= hash && hash <= BigInt(range.endingHashKey);
}
