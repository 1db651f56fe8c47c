import { describe, expect, it } from 'vitest';
import { compileSpec } from '../../../../operators/decode/compileSpec.ts';
import { DecodeError, type ReasonCode } from '../../../../operators/decode/errors.ts';
import { compileCsv } from '../../../../operators/decode/formats/csv.ts';
import { compileJson } from '../../../../operators/decode/formats/json.ts';
import { type CsvFormat, type JsonFormat, specSchema } from '../../../../specs/schema.ts';
import { rawRecord } from '../../../support/records.ts';

const bytes = (text: string) => new TextEncoder().encode(text);

function json(fields: Record<string, string>, extra: Partial<JsonFormat> = {}) {
  return compileJson({ type: 'json', fields, shared: {}, ...extra });
}

function csv(columns: CsvFormat['columns'], extra: Partial<CsvFormat> = {}) {
  return compileCsv({ type: 'csv', delimiter: ',', header: true, columns, numeric: [], ...extra });
}

function codeOf(run: () => unknown): ReasonCode {
  try {
    run();
  } catch (err) {
    if (err instanceof DecodeError) return err.code;
    throw err;
  }
  throw new Error('expected a DecodeError');
}

describe('json', () => {
  it('reads nested paths and array indices', () => {
    const decode = json({
      id: 'device.id',
      t: 'env.temp.c',
      first: 'readings.0.v',
      ok: 'flags.ok',
      note: 'note',
    });
    const payload = {
      device: { id: 'd-17' },
      env: { temp: { c: 21.5 } },
      readings: [{ v: 3 }, { v: 4 }],
      flags: { ok: false },
      note: null,
    };
    expect(decode(bytes(JSON.stringify(payload)))).toEqual([
      { id: 'd-17', t: 21.5, first: 3, ok: false, note: null },
    ]);
  });

  it('leaves out fields whose path is absent', () => {
    const decode = json({
      a: 'x.y',
      b: 'x.missing',
      c: 'nope.deeper',
      d: 'list.5',
      e: 'list.length',
      f: 'x.y.z',
      g: 'toString',
    });
    expect(decode(bytes('{"x":{"y":1},"list":[1,2]}'))).toEqual([{ a: 1 }]);
  });

  it('reads keys that are digits on objects', () => {
    expect(json({ v: 'ch.1' })(bytes('{"ch":{"1":7}}'))).toEqual([{ v: 7 }]);
  });

  it('makes one record per child reading with the hub fields shared', () => {
    const decode = json(
      { deviceId: 'id', t: 't', rh: 'env.rh' },
      { records: 'children', shared: { hubId: 'hub', ts: 'ts', fw: 'meta.fw' } },
    );
    const payload = {
      hub: 'h1',
      ts: 1718000000123,
      meta: { fw: '2.1.0' },
      children: [
        { id: 'c1', t: 21.5, env: { rh: 40 } },
        { id: 'c2', t: -3.25 },
        { id: 'c3', t: null, env: {} },
      ],
    };
    expect(decode(bytes(JSON.stringify(payload)))).toEqual([
      { hubId: 'h1', ts: 1718000000123, fw: '2.1.0', deviceId: 'c1', t: 21.5, rh: 40 },
      { hubId: 'h1', ts: 1718000000123, fw: '2.1.0', deviceId: 'c2', t: -3.25 },
      { hubId: 'h1', ts: 1718000000123, fw: '2.1.0', deviceId: 'c3', t: null },
    ]);
  });

  it('reads records at a nested path and an empty array as no records', () => {
    const decode = json({ v: 'v' }, { records: 'batch.items' });
    expect(decode(bytes('{"batch":{"items":[{"v":1},{"v":2}]}}'))).toEqual([{ v: 1 }, { v: 2 }]);
    expect(decode(bytes('{"batch":{"items":[]}}'))).toEqual([]);
  });

  it('reads a root array with the empty records path', () => {
    expect(json({ v: 'v' }, { records: '' })(bytes('[{"v":1},{"v":"x"}]'))).toEqual([{ v: 1 }, { v: 'x' }]);
  });

  it('gives each record its own object', () => {
    const [a, b] = json(
      { v: 'v' },
      { records: 'r', shared: { h: 'h' } },
    )(bytes('{"h":1,"r":[{"v":1},{"v":2}]}'));
    expect(a).not.toBe(b);
    expect(a).toEqual({ h: 1, v: 1 });
  });

  it('rejects invalid UTF-8', () => {
    expect(codeOf(() => json({ a: 'a' })(new Uint8Array([0x7b, 0xff, 0x7d])))).toBe('invalid-utf8');
  });

  it('rejects invalid JSON with the parser message', () => {
    const err = (() => {
      try {
        json({ a: 'a' })(bytes('{"a":'));
      } catch (e) {
        return e as DecodeError;
      }
    })();
    expect(err).toBeInstanceOf(DecodeError);
    expect(err?.code).toBe('invalid-json');
    expect(err?.message).toMatch(/JSON/);
    expect(codeOf(() => json({ a: 'a' })(bytes('{"a":NaN}')))).toBe('invalid-json');
    expect(codeOf(() => json({ a: 'a' })(bytes('')))).toBe('invalid-json');
  });

  it('rejects a root that is not an object', () => {
    for (const root of ['42', '"text"', 'null', 'true']) {
      expect(codeOf(() => json({ a: 'a' })(bytes(root)))).toBe('invalid-json');
    }
  });

  it('rejects a records path that is not an array', () => {
    const decode = json({ v: 'v' }, { records: 'children' });
    expect(codeOf(() => decode(bytes('{"children":{"v":1}}')))).toBe('missing-field');
    expect(codeOf(() => decode(bytes('{"other":[]}')))).toBe('missing-field');
  });

  it('rejects objects and arrays as values, and readings that are not objects', () => {
    expect(codeOf(() => json({ a: 'a' })(bytes('{"a":{"b":1}}')))).toBe('bad-value');
    expect(codeOf(() => json({ a: 'a' })(bytes('{"a":[1]}')))).toBe('bad-value');
    expect(codeOf(() => json({ v: 'v' }, { records: 'r' })(bytes('{"r":[{"v":1},5]}')))).toBe('bad-value');
    expect(
      codeOf(() => json({ v: 'v' }, { records: 'r', shared: { h: 'h' } })(bytes('{"h":{},"r":[]}'))),
    ).toBe('bad-value');
  });
});

describe('csv', () => {
  it('maps header columns by name and by index', () => {
    const decode = csv({ id: 'device', t: 'temp', third: 2 }, { numeric: ['t'] });
    expect(decode(bytes('device,temp,hum\nd1,21.5,40\nd2,-3,41\n'))).toEqual([
      { id: 'd1', t: 21.5, third: '40' },
      { id: 'd2', t: -3, third: '41' },
    ]);
  });

  it('finds columns by name whatever their order in the header', () => {
    const decode = csv({ id: 'device', t: 'temp' }, { numeric: ['t'] });
    expect(decode(bytes('temp,device\n1,a\n'))).toEqual([{ id: 'a', t: 1 }]);
    expect(decode(bytes('device,temp\nb,2\n'))).toEqual([{ id: 'b', t: 2 }]);
    expect(decode(bytes('temp,device\n3,c'))).toEqual([{ id: 'c', t: 3 }]);
  });

  it('reads positional rows without a header', () => {
    const decode = csv({ id: 0, t: 1, rh: 2 }, { header: false, numeric: ['t', 'rh'] });
    expect(decode(bytes('d1,21.5,40\nd2,22,\n\nd3,1e2, 7 \n'))).toEqual([
      { id: 'd1', t: 21.5, rh: 40 },
      { id: 'd2', t: 22, rh: null },
      { id: 'd3', t: 100, rh: 7 },
    ]);
  });

  it('uses the spec delimiter', () => {
    const decode = csv({ id: 'id', v: 'v' }, { delimiter: ';', numeric: ['v'] });
    expect(decode(bytes('id;v\na,b;1.5\n'))).toEqual([{ id: 'a,b', v: 1.5 }]);
    expect(decode(bytes('id;v\n"a;b";2\n'))).toEqual([{ id: 'a;b', v: 2 }]);
  });

  it('reads quoted cells with delimiters, line breaks and escaped quotes', () => {
    const decode = csv({ id: 'id', note: 'note', v: 'v' }, { numeric: ['v'] });
    const text = 'id,note,v\r\n"d,1","line one\nline two",1\r\n"d2","say ""hi""",""\r\n';
    expect(decode(bytes(text))).toEqual([
      { id: 'd,1', note: 'line one\nline two', v: 1 },
      { id: 'd2', note: 'say "hi"', v: null },
    ]);
  });

  it('reads CRLF rows and quoted headers the same as plain ones', () => {
    const decode = csv({ id: 'device id', t: 'temp' }, { numeric: ['t'] });
    expect(decode(bytes('device id,temp\r\nd1,2\r\n'))).toEqual([{ id: 'd1', t: 2 }]);
    expect(decode(bytes('"device id","temp"\n"d1","2"\n'))).toEqual([{ id: 'd1', t: 2 }]);
  });

  it('reads a header alone or an empty payload as no records', () => {
    expect(csv({ id: 'id' })(bytes('id\n'))).toEqual([]);
    expect(csv({ id: 'id' })(bytes(''))).toEqual([]);
  });

  it('rejects invalid UTF-8', () => {
    expect(codeOf(() => csv({ id: 'id' })(new Uint8Array([0x69, 0x64, 0x0a, 0xc3, 0x28])))).toBe(
      'invalid-utf8',
    );
  });

  it('rejects rows of the wrong width and broken quotes, naming the row', () => {
    const decode = csv({ id: 'id' });
    for (const text of [
      'id,v\n1,2\n3\n',
      'id,v\n1,2\n"3",4,5\n',
      'id,v\n"1,2\n',
      'id,v\n"1"x,2\n',
      'id,v\n1"x,2\n',
    ]) {
      expect(codeOf(() => decode(bytes(text)))).toBe('invalid-csv');
    }
    expect(() => decode(bytes('id,v\n1,2\n3\n'))).toThrow(/row 3 \(line 3\)/);
    expect(() => decode(bytes('id,v\n"1",2\n3\n'))).toThrow(/line 3/);
  });

  it('rejects a mapped column the header or the row lacks', () => {
    expect(codeOf(() => csv({ id: 'id', t: 'temp' })(bytes('id,hum\n1,2\n')))).toBe('missing-field');
    expect(codeOf(() => csv({ id: 0, t: 3 }, { header: false })(bytes('1,2\n')))).toBe('missing-field');
  });

  it('rejects numeric cells that are not finite decimal numbers, naming row and column', () => {
    const decode = csv({ t: 'temp' }, { numeric: ['t'] });
    for (const cell of ['abc', 'NaN', 'Infinity', '0x1A', '1e999', '1.2.3', '--1']) {
      expect(codeOf(() => decode(bytes(`temp\n1\n${cell}\n`)))).toBe('bad-value');
    }
    expect(() => decode(bytes('temp\n1\nabc\n'))).toThrow(/row 3, column "temp"/);
  });

  it('refuses column names without a header at compile time', () => {
    expect(() => csv({ id: 'id' }, { header: false })).toThrow(/header: true/);
  });
});

describe('the contract’s device id rule', () => {
  const NOW = Date.UTC(2026, 10, 22, 9, 31, 0);
  const spec = compileSpec(
    specSchema.parse({
      id: 'valve-v9',
      version: 1,
      productId: 'valve-v9',
      match: { topic: 'devices/{device}/telemetry' },
      format: { type: 'json', fields: { ts: 'ts', position: 'position' } },
      telemetry: { deviceId: { from: 'topic' }, timestamp: { field: 'ts', kind: 'epoch-ms' } },
      contract: { deviceId: { pattern: '^v9-[0-9]+$', maxLength: 8 } },
    }),
  );
  const record = rawRecord(new Uint8Array(0));
  const decode = (device: string) =>
    spec.decode(
      record,
      {
        envelope: {
          v: 1,
          protocol: 'mqtt',
          encoding: 'utf8',
          receivedAt: NOW,
          topic: `devices/${device}/telemetry`,
          payload: '',
        },
        payload: bytes(JSON.stringify({ ts: NOW - 1000, position: 40 })),
      },
      NOW,
    );

  it('holds for an id from the topic as for one from a field', () => {
    expect(decode('v9-17')[0]?.device_id).toBe('v9-17');
    expect(codeOf(() => decode('v8-17'))).toBe('contract-id');
    expect(codeOf(() => decode('v9-123456'))).toBe('contract-id');
    expect(() => decode('v9-123456')).toThrow('device id "v9-123456" is longer than 8 characters');
  });
});
