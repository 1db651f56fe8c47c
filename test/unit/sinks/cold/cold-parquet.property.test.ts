import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareCodePoints } from '../../../../sinks/cold/parquet/bounds.ts';
import type { ColdField, ColdType } from '../../../../sinks/cold/parquet/types.ts';
import { writeParquet } from '../../../../sinks/cold/parquet/writer.ts';
import { decodeBound } from '../../../support/icebergReads.ts';

const nullable = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: null, freq: 5 });

const arbitraries: Record<ColdType, fc.Arbitrary<unknown>> = {
  string: fc.string({ unit: 'binary', maxLength: 12 }),
  long: fc.oneof(fc.maxSafeInteger(), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n })),
  int: fc.integer(),
  double: fc.oneof(fc.double(), fc.constant(Number.NaN)),
  boolean: fc.boolean(),
  timestamptz: fc.integer({ min: -2_000_000_000_000, max: 4_000_000_000_000 }),
  date: fc.integer({ min: -100_000, max: 100_000 }),
};

/** The expected bounds, computed independently of the writer (strings by their UTF-8 bytes). */
function expectedBounds(type: ColdType, values: readonly unknown[]) {
  const present = values.filter((v) => v !== null && !(typeof v === 'number' && Number.isNaN(v)));
  if (present.length === 0) return undefined;
  const key = (v: unknown): number | bigint | Buffer => {
    if (type === 'string') return Buffer.from(v as string, 'utf8');
    if (type === 'long') return BigInt(v as number | bigint);
    if (type === 'timestamptz') return BigInt(v as number) * 1000n;
    if (type === 'boolean') return v ? 1 : 0;
    return v as number;
  };
  const cmp = (a: unknown, b: unknown) => {
    const ka = key(a);
    const kb = key(b);
    if (Buffer.isBuffer(ka) || Buffer.isBuffer(kb)) return Buffer.compare(ka as Buffer, kb as Buffer);
    if (ka === 0 && kb === 0) return Object.is(ka, -0) === Object.is(kb, -0) ? 0 : Object.is(ka, -0) ? -1 : 1;
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  };
  const sorted = [...present].sort(cmp);
  const out = (v: unknown) => {
    const k = key(v);
    return Buffer.isBuffer(k) ? (v as string) : type === 'boolean' ? v === true : k;
  };
  return [out(sorted[0]), out(sorted[sorted.length - 1])];
}

describe('writeParquet bounds', () => {
  for (const type of Object.keys(arbitraries) as ColdType[]) {
    it(`decode back to the min and max of a random ${type} column`, () => {
      fc.assert(
        fc.property(fc.array(nullable(arbitraries[type]), { maxLength: 40 }), (values) => {
          const field: ColdField = { id: 7, name: 'c', type, required: false };
          const { stats } = writeParquet(
            [field],
            { length: values.length, columns: new Map([[7, values as never]]) },
            { compression: 'snappy', rowGroupRows: 16 },
          );
          const bounds = expectedBounds(type, values);
          const lower = stats.lowerBounds.get(7);
          const upper = stats.upperBounds.get(7);
          if (!bounds) {
            expect(lower).toBeUndefined();
            expect(upper).toBeUndefined();
          } else {
            const decoded = [decodeBound(type, lower!), decodeBound(type, upper!)];
            // toEqual tells -0 from 0, as Iceberg's order does.
            expect(decoded).toEqual(bounds);
          }
          expect(stats.valueCounts.get(7)).toBe(values.length);
          expect(stats.nullValueCounts.get(7)).toBe(values.filter((v) => v === null).length);
          if (type === 'double') {
            expect(stats.nanValueCounts.get(7)).toBe(values.filter((v) => Number.isNaN(v)).length);
          }
        }),
        { numRuns: 60 },
      );
    });
  }

  it('bounds mostly-ASCII string columns by code point, repetitive (dictionary) or not (plain)', () => {
    // ASCII values are ordered by the engine's `<`; U+E000 and U+FFFF against an astral character are
    // where UTF-16 order and code point order disagree.
    const unit = fc.constantFrom('a', 'b', 'Z', '~', '0', 'é', '\uE000', '\uFFFF', '😀');
    const column = fc.oneof(
      fc.array(nullable(fc.string({ unit, maxLength: 4 })), { maxLength: 120 }),
      fc.array(nullable(fc.constantFrom('a', 'ab', 'b', '~', '😀', '\uE000')), { maxLength: 120 }),
    );
    fc.assert(
      fc.property(column, (values) => {
        const field: ColdField = { id: 7, name: 'c', type: 'string', required: false };
        const { stats } = writeParquet(
          [field],
          { length: values.length, columns: new Map([[7, values]]) },
          { compression: 'snappy' },
        );
        const bounds = expectedBounds('string', values);
        if (!bounds) expect(stats.lowerBounds.get(7)).toBeUndefined();
        else {
          expect(decodeBound('string', stats.lowerBounds.get(7)!)).toEqual(bounds[0]);
          expect(decodeBound('string', stats.upperBounds.get(7)!)).toEqual(bounds[1]);
        }
        expect(stats.nullValueCounts.get(7)).toBe(values.filter((v) => v === null).length);
      }),
      { numRuns: 200 },
    );
  });

  it('orders strings by code point, as their UTF-8 bytes order', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' }), (a, b) => {
        expect(Math.sign(compareCodePoints(a, b))).toBe(
          Math.sign(Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))),
        );
      }),
    );
  });
});
