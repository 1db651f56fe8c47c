/**
 * Whatever bytes arrive, the JSON and CSV decoders either return records of plain values or throw a
 * `DecodeError`: anything else thrown would fail the worker instead of dead-lettering one record.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecodeError } from '../../../../operators/decode/errors.ts';
import { compileCsv } from '../../../../operators/decode/formats/csv.ts';
import { compileJson } from '../../../../operators/decode/formats/json.ts';
import type { FrameDecoder } from '../../../../operators/decode/frame.ts';
import type { CsvFormat, JsonFormat } from '../../../../specs/schema.ts';

const RUNS = { numRuns: 300 };
const encoder = new TextEncoder();
const bytes = (text: string) => encoder.encode(text);

/** Decodes, and checks the outcome is records of plain values or a `DecodeError`. */
function decodesOrRejects(decode: FrameDecoder, payload: Uint8Array): void {
  let records: unknown;
  try {
    records = decode(payload);
  } catch (err) {
    if (err instanceof DecodeError) return;
    throw err;
  }
  expect(Array.isArray(records)).toBe(true);
  for (const record of records as unknown[]) {
    expect(Object.getPrototypeOf(record)).toBe(Object.prototype);
    for (const value of Object.values(record as object)) {
      expect(value === null || ['number', 'string', 'boolean'].includes(typeof value)).toBe(true);
    }
  }
}

const hubJson = compileJson({
  type: 'json',
  fields: { deviceId: 'id', t: 't', rh: 'env.rh' },
  records: 'children',
  shared: { hubId: 'hub', ts: 'ts' },
});
const flatJson = compileJson({
  type: 'json',
  fields: {
    id: 'device.id',
    t: 'env.temp',
    first: 'readings.0.v',
    proto: '__proto__',
    len: 'readings.length',
  },
  shared: {},
});
const headerCsv = compileCsv({
  type: 'csv',
  delimiter: ',',
  header: true,
  columns: { id: 'device', t: 'temp', h: 2 },
  numeric: ['t', 'h'],
});
const plainCsv = compileCsv({
  type: 'csv',
  delimiter: ';',
  header: false,
  columns: { id: 0, t: 1, h: 2 },
  numeric: ['t'],
});
const decoders: Record<string, FrameDecoder> = { hubJson, flatJson, headerCsv, plainCsv };
const anyDecoder = fc.constantFrom(...Object.values(decoders));

const hubPayload = fc
  .record({
    hub: fc.string(),
    ts: fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true })),
    children: fc.array(
      fc.record({
        id: fc.string(),
        t: fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constant(null)),
      }),
      { maxLength: 8 },
    ),
  })
  .map((p) => JSON.stringify(p));
const csvCell = fc.stringMatching(/^[a-z0-9.-]{0,6}$/);
const csvPayload = fc
  .tuple(
    fc.integer({ min: 1, max: 5 }),
    fc.array(fc.array(csvCell, { minLength: 5, maxLength: 5 }), { maxLength: 6 }),
  )
  .map(([width, rows]) =>
    [['device', 'temp', 'x', 'y', 'z'].slice(0, width), ...rows.map((r) => r.slice(0, width))]
      .map((r) => r.join(','))
      .join('\n'),
  );
const validText = fc.oneof(hubPayload, csvPayload, fc.json());

/** Ways to spoil a valid payload. */
const mutation = fc.oneof(
  fc.nat().map((n) => (b: Uint8Array) => b.subarray(0, n % (b.length + 1))),
  fc.uint8Array({ minLength: 1, maxLength: 16 }).map((extra) => (b: Uint8Array) => concat(b, extra)),
  fc
    .tuple(
      fc.nat(),
      fc.constantFrom(
        [0xff],
        [0xc0, 0xaf],
        [0x80],
        [0xed, 0xa0, 0x80],
        [0xe2, 0x82],
        [0xf4, 0x90, 0x80, 0x80],
      ),
    )
    .map(
      ([at, bad]) =>
        (b: Uint8Array) =>
          splice(b, at % (b.length + 1), Uint8Array.from(bad)),
    ),
  fc
    .tuple(
      fc.constantFrom('NaN', 'Infinity', '-Infinity', '1e999', '0x1F', '"', '\r', '\n', ',', ';', '[', '{'),
      fc.nat(),
    )
    .map(
      ([token, at]) =>
        (b: Uint8Array) =>
          splice(b, at % (b.length + 1), bytes(token)),
    ),
);

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function splice(b: Uint8Array, at: number, insert: Uint8Array): Uint8Array {
  return concat(concat(b.subarray(0, at), insert), b.subarray(at));
}

describe('text decoders on hostile input', () => {
  it('random strings', () => {
    fc.assert(
      fc.property(anyDecoder, fc.string({ unit: 'binary', maxLength: 300 }), (decode, text) => {
        decodesOrRejects(decode, bytes(text));
      }),
      RUNS,
    );
  });

  it('random bytes', () => {
    fc.assert(
      fc.property(anyDecoder, fc.uint8Array({ maxLength: 300 }), (decode, payload) => {
        decodesOrRejects(decode, payload);
      }),
      RUNS,
    );
  });

  it('valid payloads, truncated, extended, with invalid UTF-8 or odd tokens inserted', () => {
    fc.assert(
      fc.property(
        anyDecoder,
        validText,
        fc.array(mutation, { minLength: 1, maxLength: 3 }),
        (decode, text, edits) => {
          decodesOrRejects(
            decode,
            edits.reduce<Uint8Array>((payload, edit) => edit(payload), bytes(text)),
          );
        },
      ),
      RUNS,
    );
  });

  it('random JSON specs on random JSON', () => {
    const path = fc
      .array(fc.constantFrom('a', 'b', '0', '1', 'length', '__proto__', 'toString', 'constructor', ''), {
        minLength: 1,
        maxLength: 4,
      })
      .map((keys) => keys.join('.'))
      .filter((p) => p.length > 0);
    const fields = fc.dictionary(fc.constantFrom('f1', 'f2', 'f3', 'f4'), path);
    const spec = fc.record({
      fields,
      shared: fields,
      records: fc.option(fc.oneof(path, fc.constant('')), { nil: undefined }),
    });
    const value = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: 'small' },
        fc.jsonValue({ maxDepth: 0 }),
        fc.array(tie('node'), { maxLength: 3 }),
        fc.dictionary(fc.constantFrom('a', 'b', '0', '1', 'length', '__proto__', 'toString'), tie('node'), {
          maxKeys: 3,
        }),
      ),
    })).node;
    fc.assert(
      fc.property(spec, value, (format, payload) => {
        const decode = compileJson({ type: 'json', ...format } as JsonFormat);
        decodesOrRejects(decode, bytes(JSON.stringify(payload) ?? ''));
      }),
      RUNS,
    );
  });

  it('random CSV specs on random CSV', () => {
    const spec = fc.boolean().chain((header) =>
      fc.record({
        delimiter: fc.constantFrom(',', ';', '\t', '|', '"', 'a', ' '),
        header: fc.constant(header),
        columns: fc.dictionary(
          fc.constantFrom('f1', 'f2', 'f3'),
          header ? fc.oneof(fc.constantFrom('a', 'b', 'c'), fc.nat(4)) : fc.nat(4),
        ),
        numeric: fc.subarray(['f1', 'f2', 'f3']),
      }),
    );
    const text = fc
      .array(
        fc.constantFrom(
          'a',
          'b',
          'c',
          '1',
          '2.5',
          '-',
          'e',
          ',',
          ';',
          '\t',
          '|',
          '"',
          '""',
          '\n',
          '\r\n',
          ' ',
          '',
        ),
        {
          maxLength: 40,
        },
      )
      .map((parts) => parts.join(''));
    fc.assert(
      fc.property(spec, text, (format, payload) => {
        decodesOrRejects(compileCsv({ type: 'csv', ...format } as CsvFormat), bytes(payload));
      }),
      RUNS,
    );
  });
});

describe('text decoders agree with themselves', () => {
  it('JSON readings come back as they were sent', () => {
    const primitive = fc.oneof(
      fc.string(),
      fc.boolean(),
      fc.constant(null),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
    );
    fc.assert(
      fc.property(
        fc.string(),
        fc.array(fc.record({ id: fc.string(), t: primitive }), { maxLength: 6 }),
        (hub, children) => {
          const records = hubJson(bytes(JSON.stringify({ hub, ts: 1, children })));
          // JSON has no -0: it comes back as 0.
          const expected = children.map((c) => ({
            hubId: hub,
            ts: 1,
            deviceId: c.id,
            t: Object.is(c.t, -0) ? 0 : c.t,
          }));
          expect(records).toEqual(expected);
        },
      ),
      RUNS,
    );
  });

  it('quoting every CSV cell (csv-parse) reads the same as the plain split', () => {
    fc.assert(
      fc.property(csvPayload, (text) => {
        const quoted = text
          .split('\n')
          .map((line) =>
            line
              .split(',')
              .map((c) => `"${c}"`)
              .join(','),
          )
          .join('\r\n');
        let plain: unknown;
        let viaParser: unknown;
        try {
          plain = headerCsv(bytes(text));
        } catch (err) {
          plain = (err as DecodeError).code;
        }
        try {
          viaParser = headerCsv(bytes(quoted));
        } catch (err) {
          viaParser = (err as DecodeError).code;
        }
        expect(viaParser).toEqual(plain);
      }),
      RUNS,
    );
  });
});

describe('text decoders on large and deep input', () => {
  it('JSON nested 100,000 deep', () => {
    const depth = 100_000;
    const arrays = bytes(`${'['.repeat(depth)}${']'.repeat(depth)}`);
    const objects = bytes(`${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`);
    for (const decode of [
      hubJson,
      flatJson,
      compileJson({ type: 'json', fields: { v: 'a.a.a' }, shared: {} }),
    ]) {
      decodesOrRejects(decode, arrays);
      decodesOrRejects(decode, objects);
      decodesOrRejects(decode, arrays.subarray(0, depth + 10));
    }
    expect(() => compileJson({ type: 'json', fields: { v: 'a.a.a' }, shared: {} })(objects)).toThrow(
      DecodeError,
    );
    decodesOrRejects(headerCsv, arrays);
  });

  it('a 5 MB payload decodes in bounded time', () => {
    const children = Array.from({ length: 120_000 }, (_, i) => ({ id: `c${i}`, t: i / 10, env: { rh: 40 } }));
    const json = bytes(JSON.stringify({ hub: 'h1', ts: 1718000000000, children }));
    const csv = bytes(
      `device,temp,h\n${Array.from({ length: 300_000 }, (_, i) => `d${i},${i / 10},1`).join('\n')}`,
    );
    expect(json.length).toBeGreaterThan(5_000_000);
    expect(csv.length).toBeGreaterThan(5_000_000);
    expect(hubJson(json)).toHaveLength(120_000);
    expect(headerCsv(csv)).toHaveLength(300_000);
    const quoted = bytes(`"device","temp","h"\n${'"d1","1.5","2"\n'.repeat(340_000)}`);
    expect(quoted.length).toBeGreaterThan(5_000_000);
    expect(headerCsv(quoted)).toHaveLength(340_000);
    decodesOrRejects(flatJson, concat(json, bytes('x')));
    decodesOrRejects(headerCsv, concat(csv, bytes('\n"open')));
    // Linear work takes seconds on a loaded runner; anything quadratic would take hours and hit the
    // test's timeout (no timed assertion: speed lives in bench/).
  }, 60_000);
});
