/**
 * Where a partition key lands: Kinesis maps a record to the shard whose hash key range holds the MD5
 * of its partition key (UTF-8), read as a 128-bit unsigned integer.
 */
import { createHash } from 'node:crypto';
import type { ShardLineage } from './components.ts';

/** The hash key of a partition key, as Kinesis computes it. */
export function hashKeyOf(partitionKey: string): bigint {
  return BigInt(`0x${createHash('md5').update(partitionKey, 'utf8').digest('hex')}`);
}

/** Whether a hash key falls in a shard's range (both ends inclusive). */
export function inHashRange(hash: bigint, range: ShardLineage['hashKeyRange']): boolean {
  return hash >= BigInt(range.startingHashKey) && hash <= BigInt(range.endingHashKey);
}
