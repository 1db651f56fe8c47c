/**
 * A partition key's hash and the shard range that holds it. The shards below are the ones kinesalite
 * assigned these keys on a stream created with four shards (PutRecord's `ShardId`);
 * `test/integration/shard-lineage.test.ts` asks kinesalite again, on a split stream.
 */
import { describe, expect, it } from 'vitest';
import { hashKeyOf, inHashRange } from '../../../topology/index.ts';

const QUARTER = 2n ** 126n;
/** The four even ranges of a stream created with four shards. */
const FOUR_SHARDS = [0n, 1n, 2n, 3n].map((i) => ({
  startingHashKey: (i * QUARTER).toString(),
  endingHashKey: ((i + 1n) * QUARTER - 1n).toString(),
}));

describe('hashKeyOf', () => {
  it('is the MD5 of the UTF-8 bytes as an unsigned 128-bit integer', () => {
    expect(hashKeyOf('')).toBe(0xd41d8cd98f00b204e9800998ecf8427en);
    expect(hashKeyOf('device-1')).toBe(277901890176008628857739572313990950024n);
    // UTF-8, not UTF-16: one code point of four bytes
    expect(hashKeyOf('🚀')).toBe(21850492548355742038695361153656903441n);
    expect(hashKeyOf('device-1')).toBeLessThan(2n ** 128n);
  });

  it('puts keys in the shard kinesalite put them in', () => {
    const assigned: [string, number][] = [
      ['x', 2],
      ['device-1', 3],
      ['aq-1', 0],
      ['sensor-42', 1],
      ['Zürich-7', 1],
      ['温度计', 1],
      ['🚀', 0],
    ];
    for (const [key, shard] of assigned) {
      const holding = FOUR_SHARDS.flatMap((range, i) => (inHashRange(hashKeyOf(key), range) ? [i] : []));
      expect(holding, key).toEqual([shard]);
    }
  });
});

describe('inHashRange', () => {
  it('includes both ends', () => {
    const range = { startingHashKey: '10', endingHashKey: '20' };
    expect([9n, 10n, 15n, 20n, 21n].map((h) => inHashRange(h, range))).toEqual([
      false,
      true,
      true,
      true,
      false,
    ]);
  });

  it('covers the whole 128-bit space with a single shard', () => {
    const whole = { startingHashKey: '0', endingHashKey: (2n ** 128n - 1n).toString() };
    expect(inHashRange(0n, whole)).toBe(true);
    expect(inHashRange(2n ** 128n - 1n, whole)).toBe(true);
  });
});
