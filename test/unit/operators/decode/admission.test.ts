/**
 * What the decode stage lets through can be stored: ids, texts, numbers, times and the envelope's
 * fields are checked where they enter, and whatever would make a store refuse a record is a dead
 * letter at decode with its own reason code.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  admissionConfigSchema,
  compileAdmission,
  metricsToCheck,
} from '../../../../operators/decode/admission.ts';
import type { DecodeError } from '../../../../operators/decode/errors.ts';
import { SpecRegistry } from '../../../../operators/decode/registry.ts';
import { isPrintable } from '../../../../operators/decode/storable.ts';
import { type DecodeOptions, decodeBySpec } from '../../../../operators/decodeBySpec.ts';
import type { DeadLetter, RawRecord, Telemetry } from '../../../../topology/index.ts';
import { decodeRecords, enveloped } from './fixtures.ts';

const NOW = Date.UTC(2026, 11, 6, 12, 0, 0);
const specs = new SpecRegistry('specs/examples');
specs.load();

function decode(records: RawRecord[], options: DecodeOptions = {}): { out: Telemetry[]; dead: DeadLetter[] } {
  return decodeRecords(decodeBySpec(specs, options), records, NOW);
}

/** A thermo-t1 reading (device id from the payload), with the payload's and the envelope's fields overridden. */
const thermo = (payload: Record<string, unknown>, envelope: Record<string, unknown> = {}) =>
  enveloped(
    {
      productId: 'thermo-t1',
      topic: 'devices/d1/telemetry',
      payload: JSON.stringify({ device_id: 'd1', ts: NOW - 1000, metrics: { temperature: 20 }, ...payload }),
      ...envelope,
    },
    NOW,
  );

const codeOf = (r: RawRecord, options?: DecodeOptions) => {
  const { out, dead } = decode([r], options);
  expect(out.length + dead.length).toBeGreaterThan(0);
  return dead[0]?.code ?? 'decoded';
};

describe('admission at decode', () => {
  it('refuses ids a store could not key: NUL, control and format characters, too long, off the pattern', () => {
    expect(codeOf(thermo({}))).toBe('decoded');
    expect(codeOf(thermo({ device_id: 'd\u00001' }))).toBe('invalid-id');
    expect(codeOf(thermo({ device_id: 'bell\u0007' }))).toBe('invalid-id');
    expect(codeOf(thermo({ device_id: 'zero\u200bwidth' }))).toBe('invalid-id');
    expect(codeOf(thermo({ device_id: 'half\ud800' }))).toBe('invalid-id');
    expect(codeOf(thermo({ device_id: 'x'.repeat(129) }))).toBe('invalid-id');
    expect(codeOf(thermo({ device_id: 'x'.repeat(128) }))).toBe('decoded');
    const strict = { admission: admissionConfigSchema.parse({ maxIdLength: 8, idPattern: '^[a-z0-9-]+$' }) };
    expect(codeOf(thermo({ device_id: 'ok-1' }), strict)).toBe('decoded');
    expect(codeOf(thermo({ device_id: 'Not-OK' }), strict)).toBe('invalid-id');
    expect(codeOf(thermo({ device_id: 'too-long-1' }), strict)).toBe('invalid-id');
  });

  it('names the problem in the reason without putting the raw value in it', () => {
    const { dead } = decode([thermo({ device_id: `a\u0000${'y'.repeat(10_000)}` })]);
    expect(dead[0]!.reason).toContain('device id "a\\u0000yyy');
    expect(dead[0]!.reason).toContain('(10002 characters)');
    expect(dead[0]!.reason.length).toBeLessThan(300);
    expect(dead[0]!.reason).not.toContain('\u0000');
  });

  it('refuses envelope fields of the wrong type or out of range', () => {
    for (const [field, value] of [
      ['receivedAt', 'yesterday'],
      ['receivedAt', 1_700_000_000], // seconds, not milliseconds
      ['receivedAt', 8.64e15],
      ['receivedAt', null],
      ['protocol', 'smtp'],
      ['protocol', 7],
      ['topic', 42],
      ['topic', { a: 1 }],
      ['topic', 'devices/d\u00001/telemetry'],
      ['topic', `devices/${'x'.repeat(2000)}/telemetry`],
      ['source', []],
      ['productId', 'thermo\u0000'],
      ['productId', 12],
    ] as const) {
      expect([field, value, codeOf(thermo({}, { [field]: value }))]).toEqual([
        field,
        value,
        'invalid-envelope',
      ]);
    }
  });

  it('looks only at the metrics whose fields can hold text or numbers that are not finite', () => {
    const spec = (id: string) => specs.specs.find((s) => s.spec.id === id)!.spec;
    // env-h1: integers (scaled or not) and bit fields need no look; an enum's labels are text
    expect(metricsToCheck(spec('env-h1'))).toEqual(['mode']);
    // JSON and CSV: whatever the payload holds arrives in every field
    expect(metricsToCheck(spec('logger-c5'))).toEqual(['temperature', 'pressure']);
  });

  it('refuses times outside 2000–2100 and numbers that are not finite', () => {
    // logger-c5's metrics come from CSV columns: any value can arrive in them
    const logger = specs.specs.find((s) => s.spec.id === 'logger-c5')!.spec;
    const admit = compileAdmission().forSpec(logger);
    const ok: Telemetry = {
      device_id: 'd1',
      device_timestamp: NOW,
      productId: 'logger-c5',
      metrics: { temperature: 1, pressure: 'text\twith tab\nand line' },
      ingest_timestamp: NOW,
      rawRef: { protocol: 'mqtt', format: 'json', stream: 's', shardId: 'x', sequenceNumber: '1' },
    };
    expect(() => admit(ok)).not.toThrow();
    const codeFor = (change: Partial<Telemetry>) => {
      try {
        admit({ ...ok, ...change });
        return 'admitted';
      } catch (error) {
        return (error as DecodeError).code;
      }
    };
    expect(codeFor({ metrics: { temperature: Number.NaN } })).toBe('bad-value');
    expect(codeFor({ metrics: { pressure: Number.POSITIVE_INFINITY } })).toBe('bad-value');
    expect(codeFor({ metrics: { pressure: 'a\u0000' } })).toBe('invalid-text');
    expect(codeFor({ device_timestamp: 8.64e15 })).toBe('bad-timestamp');
    expect(codeFor({ device_timestamp: -1 })).toBe('bad-timestamp');
    expect(codeFor({ hub_id: 'h1', hub_timestamp: Number.NaN })).toBe('bad-timestamp');
    expect(codeFor({ hub_id: '' })).toBe('invalid-id');
  });

  it('refuses text metrics a store cannot hold and keeps ordinary text', () => {
    const dir = mkdtempSync(join(tmpdir(), 'shardflow-admission-'));
    writeFileSync(
      join(dir, 'notes.yaml'),
      [
        'id: notes-n1',
        'version: 1',
        'productId: notes-n1',
        'match: { productId: notes-n1 }',
        'format: { type: json, fields: { device_id: device, ts: ts, note: note } }',
        'telemetry:',
        '  deviceId: { from: field, field: device_id }',
        '  timestamp: { field: ts, kind: epoch-ms }',
        '',
      ].join('\n'),
    );
    const registry = new SpecRegistry(dir);
    registry.load();
    const note = (text: string) => {
      const r = enveloped(
        { productId: 'notes-n1', payload: JSON.stringify({ device: 'd1', ts: NOW, note: text }) },
        NOW,
      );
      const { out, dead } = decodeRecords(decodeBySpec(registry), [r], NOW);
      return out[0]?.metrics.note ?? dead[0]?.code;
    };
    expect(note('café ☕ — fine, with\ttabs')).toBe('café ☕ — fine, with\ttabs');
    expect(note('a\u0000b')).toBe('invalid-text');
    expect(note('\u0001')).toBe('invalid-text');
    expect(note('half \udc00')).toBe('invalid-text');
    expect(note('x'.repeat(4097))).toBe('invalid-text');
    expect(note('x'.repeat(4096))).toBe('x'.repeat(4096));
  });

  it('lets through only records every store can hold (property)', () => {
    const hostile = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.constantFrom('\u0000', 'a\u0000b', '\ud800', 'x'.repeat(600), '\u200b', ''),
    );
    fc.assert(
      fc.property(hostile, hostile, fc.oneof(fc.double(), fc.integer()), (id, topic, ts) => {
        const { out, dead } = decode([
          thermo({ device_id: id, ts }, { topic: `devices/${topic}/telemetry` }),
          enveloped(
            {
              productId: 'hub-j4',
              topic: `devices/${topic}/telemetry`,
              payload: JSON.stringify({ ts: NOW / 1000, children: [{ id, t: 20 }] }),
            },
            NOW,
          ),
        ]);
        expect(out.length + dead.length).toBeGreaterThan(0);
        for (const t of out) {
          for (const id of [t.device_id, t.hub_id]) {
            if (id === undefined) continue;
            expect(id.length).toBeGreaterThan(0);
            expect(id.length).toBeLessThanOrEqual(128);
            expect(isPrintable(id)).toBe(true);
          }
          expect(Number.isFinite(t.device_timestamp)).toBe(true);
          for (const value of Object.values(t.metrics)) {
            if (typeof value === 'number') expect(Number.isFinite(value)).toBe(true);
            if (typeof value === 'string') expect(value.includes('\u0000')).toBe(false);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
