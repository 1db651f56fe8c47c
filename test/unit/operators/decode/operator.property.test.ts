/**
 * Property: whatever arrives on the stream — random bytes, random envelopes for every bundled
 * product, valid frames mutated — the decode operator never throws and accounts for every record:
 * each one becomes telemetry (any number of readings) or exactly one dead letter with a known reason code.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { REASON_CODES } from '../../../../operators/decode/errors.ts';
import { SpecRegistry } from '../../../../operators/decode/registry.ts';
import { decodeBySpec } from '../../../../operators/decodeBySpec.ts';
import type { DeadLetter, RawRecord } from '../../../../topology/index.ts';
import { rawRecord } from '../../../support/records.ts';
import { decodeRecords, enveloped, envH1Frame } from './fixtures.ts';

const NOW = Date.UTC(2026, 10, 22, 9, 31, 0);
const specs = new SpecRegistry('specs/examples');
specs.load();
const operator = decodeBySpec(specs);
const products = specs.specs.map((s) => s.spec.productId);
const topics = [
  'devices/d1/telemetry',
  'devices/h1/child/c1/telemetry',
  'trackers/t1/frames',
  'x',
  undefined,
];

function run(records: RawRecord[]): { out: number; dead: DeadLetter[] } {
  const { out, dead } = decodeRecords(operator, records, NOW);
  return { out: out.length, dead };
}

const mutate = (bytes: Uint8Array) =>
  fc.oneof(
    fc.nat({ max: bytes.length }).map((n) => bytes.subarray(0, n)),
    fc.uint8Array({ maxLength: 64 }).map((extra) => Buffer.concat([bytes, extra])),
    fc
      .tuple(fc.nat({ max: Math.max(0, bytes.length - 1) }), fc.integer({ min: 0, max: 255 }))
      .map(([i, v]) => {
        const copy = Buffer.from(bytes);
        copy[i] = v;
        return copy;
      }),
  );

describe('decode operator (property)', () => {
  it('turns any record into telemetry or one dead letter with a known reason, never throwing', () => {
    const anyRecord = fc.oneof(
      fc.uint8Array({ maxLength: 512 }).map((b) => rawRecord(b)),
      fc
        .record({
          productId: fc.constantFrom(...products, 'unknown'),
          topic: fc.constantFrom(...topics),
          encoding: fc.constantFrom('utf8', 'base64', 'hex'),
          payload: fc.oneof(fc.string({ maxLength: 300 }), fc.json()),
        })
        .map((e) => enveloped(e as never, NOW)),
      mutate(envH1Frame('261122103000')).map((b) => rawRecord(b)),
    );
    fc.assert(
      fc.property(fc.array(anyRecord, { minLength: 1, maxLength: 20 }), (records) => {
        const { dead } = run(records);
        // a record decodes (to any number of readings: a frame may hold several, or none) or it
        // becomes exactly one dead letter, with a known reason code; none appears from nowhere
        const inputs = new Set(records.map((r) => r.sequenceNumber));
        const deadIds = dead.map((d) => d.sequenceNumber);
        expect(new Set(deadIds).size).toBe(dead.length);
        for (const letter of dead) {
          expect(inputs.has(letter.sequenceNumber)).toBe(true);
          expect(REASON_CODES).toContain(letter.code);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('dead-letters a 5 MB payload by its size, quickly', () => {
    const huge = rawRecord(
      JSON.stringify({
        v: 1,
        protocol: 'mqtt',
        productId: 'thermo-t1',
        encoding: 'utf8',
        receivedAt: NOW,
        payload: 'x'.repeat(5 * 1024 * 1024),
      }),
    );
    const { out, dead } = run([huge]);
    expect(out).toBe(0);
    expect(dead[0]?.code).toBe('payload-too-large');
  });
});
