/**
 * A spec author's mistakes, each reported at the line of the offending key with what is allowed
 * there and the schema's own hint: never zod's "Invalid input" or "Invalid key in record", never
 * line 1 for a key further down.
 */
import { describe, expect, it } from 'vitest';
import { REASON_CODES } from '../../../operators/decode/errors.ts';
import { parseCaseFile } from '../../../specs/cases.ts';
import { parseSpec } from '../../../specs/loader.ts';

/** A valid hex spec, one section per key; a row of the table replaces some of them. */
const SECTIONS = {
  head: ['id: t1', 'version: 1', 'productId: t1'],
  match: ['match:', '  productId: t1'],
  format: [
    'format:',
    '  type: hex',
    '  fields:',
    '    - { name: serial, type: u32 }',
    '    - { name: temp, type: i16, scale: 0.1 }',
  ],
  telemetry: ['telemetry:', '  deviceId: { from: field, field: serial }', '  timestamp: { from: ingest }'],
  contract: ['contract:', '  metrics:', '    temp: { type: number, min: -40 }'],
};
type Sections = Partial<Record<keyof typeof SECTIONS, string[]>>;

const specText = (over: Sections) =>
  Object.values({ ...SECTIONS, ...over })
    .flat()
    .join('\n');

/** Each mistake: the sections changed, the line expected and parts of the message. */
const MISTAKES: readonly { kind: string; over: Sections; line: number; says: string[] }[] = [
  {
    kind: 'an unknown field type',
    over: { format: [...SECTIONS.format.slice(0, 4), '    - { name: temp, type: int16 }'] },
    line: 10,
    says: ['format.fields.1.type: "int16" is not allowed: one of u8, u16, u32, u64, i8, i16', 'hex'],
  },
  {
    kind: 'a misspelt option of a field',
    over: { format: [...SECTIONS.format.slice(0, 4), '    - { name: temp, type: i16, scal: 0.1 }'] },
    line: 10,
    says: [
      'format.fields.1: unknown key "scal"; allowed: name, type, length, lengthFrom, endian, scale, offset',
    ],
  },
  {
    kind: 'an unknown format',
    over: { format: ['format:', '  type: binary', '  fields: []'] },
    line: 7,
    says: ['format.type: "binary" is not allowed: one of hex, kv, hybrid, json, csv'],
  },
  {
    kind: 'an unknown timestamp kind',
    over: {
      telemetry: [
        'telemetry:',
        '  deviceId: { from: field, field: serial }',
        '  timestamp:',
        '    field: serial',
        '    kind: epoch',
      ],
    },
    line: 15,
    says: [
      'telemetry.timestamp.kind: "epoch" is not allowed: one of epoch-s, epoch-ms, epoch-us, iso8601, bcd, local',
      'either { field: NAME, kind:',
    ],
  },
  {
    kind: 'a timestamp from somewhere unknown',
    over: {
      telemetry: [
        'telemetry:',
        '  deviceId: { from: field, field: serial }',
        '  timestamp: { from: gateway }',
      ],
    },
    line: 13,
    says: ['telemetry.timestamp.from: "gateway" is not allowed: only "ingest"', 'or { from: ingest }'],
  },
  {
    kind: 'an unknown key in the timestamp',
    over: {
      telemetry: [
        'telemetry:',
        '  deviceId: { from: field, field: serial }',
        '  timestamp:',
        '    field: serial',
        '    kind: epoch-s',
        '    tz: UTC',
      ],
    },
    line: 16,
    says: ['telemetry.timestamp: unknown key "tz"; allowed: field, kind, zone, from'],
  },
  {
    kind: 'a device id from somewhere unknown',
    over: {
      telemetry: [
        'telemetry:',
        '  deviceId: { from: payload, field: serial }',
        '  timestamp: { from: ingest }',
      ],
    },
    line: 12,
    says: [
      'telemetry.deviceId.from: "payload" is not allowed: one of topic, field, envelope',
      'where the id comes from',
    ],
  },
  {
    kind: 'a metric name the contract cannot have',
    over: { contract: ['contract:', '  metrics:', '    temp-c: { type: number }'] },
    line: 16,
    says: ['contract.metrics.temp-c: key "temp-c" is not allowed: a field name: letters, digits and _'],
  },
  {
    kind: 'an unknown metric type',
    over: { contract: ['contract:', '  metrics:', '    temp:', '      type: float'] },
    line: 17,
    says: ['contract.metrics.temp.type: "float" is not allowed: one of number, string, boolean'],
  },
  {
    kind: 'a misspelt option of a metric',
    over: { contract: ['contract:', '  metrics:', '    temp:', '      type: number', '      minimum: 3'] },
    line: 18,
    says: [
      'contract.metrics.temp: unknown key "minimum"; allowed: type, unit, required, min, max, allowed, onViolation',
    ],
  },
  {
    kind: 'an unknown top-level key',
    over: { head: ['id: t1', 'version: 1', 'productId: t1', 'product: x'] },
    line: 4,
    says: ['(top level): unknown key "product"; allowed: id, version, productId, description, match'],
  },
  {
    kind: 'an ascii field without its length',
    over: { format: [...SECTIONS.format.slice(0, 4), '    - { name: code, type: ascii }'] },
    line: 10,
    says: [
      'format.fields.1.length: bcd, ascii and hex fields need a length (or lengthFrom) — bytes; required for bcd, ascii and hex',
    ],
  },
  {
    kind: 'a key-value key that is not 4 hex digits',
    over: { format: ['format:', '  type: kv', '  keys:', '    "01": { name: serial, type: u32 }'] },
    line: 9,
    says: ['format.keys.01: key "01" is not allowed: a 2-byte key as 4 hex digits'],
  },
  {
    kind: 'a version that is not a number',
    over: { head: ['id: t1', 'version: one', 'productId: t1'] },
    line: 2,
    says: ['version: expected a number, found "one"'],
  },
  {
    kind: 'a negative time limit',
    over: { contract: ['contract:', '  maxAgeMs: -1'] },
    line: 15,
    says: ['contract.maxAgeMs: -1 must be at least 0', 'default 2592000000 (30 days); off: no limit'],
  },
  {
    kind: 'a CSV column that is neither a name nor an index',
    over: { format: ['format:', '  type: csv', '  columns:', '    serial: [1]'] },
    line: 9,
    says: ['format.columns.serial: expected a string or a number, found a list', 'column name or index'],
  },
  {
    kind: 'a payload encoding that does not exist',
    over: { head: ['id: t1', 'version: 1', 'productId: t1', 'payload:', '  encoding: base64'] },
    line: 5,
    says: [
      'payload.encoding: "base64" is not allowed: one of envelope, hex-text',
      'hex-text: the decoded payload',
    ],
  },
];

describe('a spec with a mistake', () => {
  it.each(MISTAKES)('$kind: at its line, with what is allowed', ({ over, line, says }) => {
    const { spec, problems } = parseSpec('t1.yaml', specText(over));
    expect(spec).toBeUndefined();
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ file: 't1.yaml', line });
    for (const part of says) expect(problems[0]!.message).toContain(part);
    expect(problems[0]!.message).not.toMatch(/Invalid input|Invalid key in record|Invalid option/);
  });

  it('the table covers each kind of mistake once and the base spec is valid', () => {
    expect(parseSpec('t1.yaml', specText({})).problems).toEqual([]);
    expect(new Set(MISTAKES.map((m) => m.kind)).size).toBe(MISTAKES.length);
  });

  it('two unknown keys are two problems, each at its own line', () => {
    const { problems } = parseSpec(
      't1.yaml',
      specText({ head: ['id: t1', 'vers: 1', 'productId: t1', 'prodct: x'] }),
    );
    expect(problems.filter((p) => p.message.includes('unknown key'))).toEqual([
      expect.objectContaining({ line: 2, message: expect.stringContaining('unknown key "vers"') }),
      expect.objectContaining({ line: 4, message: expect.stringContaining('unknown key "prodct"') }),
    ]);
  });
});

describe('a case file with a mistake', () => {
  it('names the line of the key and the reason codes allowed', () => {
    const text = ['cases:', '  - name: bad', '    hex: "00"', '    deadLetter:', '      code: crc-bad'].join(
      '\n',
    );
    const { problems } = parseCaseFile('t1.cases.yaml', text, REASON_CODES);
    expect(problems).toEqual([
      {
        file: 't1.cases.yaml',
        line: 5,
        message: expect.stringMatching(
          /^cases\.0\.deadLetter\.code: "crc-bad" is not allowed: one of .*checksum-mismatch/,
        ),
      },
    ]);
  });
});
