/**
 * The file gateway's pure parts: cutting files into records (lines with their numbers, a CSV header
 * repeated, binary framings with offsets), resuming from any record's end, the durable prefix, the
 * include filter and the configuration.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { filesGatewayConfigSchema } from '../../../gateways/files/config.ts';
import { DurablePrefix } from '../../../gateways/files/durablePrefix.ts';
import { type CutOptions, type FileRecord, FileRecordCutter } from '../../../gateways/files/fileRecords.ts';
import { includes, progressNameOf } from '../../../gateways/files/fileSource.ts';
import { filePartitionKey } from '../../../gateways/files/filesGateway.ts';
import { framingSchema } from '../../../gateways/framing/deframer.ts';

const text = (b: Uint8Array) => Buffer.from(b).toString('utf8');
const lines: CutOptions = {
  framing: framingSchema.parse({ kind: 'lines' }),
  header: 'none',
  linesPerRecord: 1,
};

/** Cuts `bytes` pushed in pieces at `cuts` (offsets), starting at `start`. */
function cutAll(
  options: CutOptions,
  bytes: Uint8Array,
  cuts: number[] = [],
  start?: { offset: number; line: number; header?: Uint8Array },
) {
  const cutter = new FileRecordCutter(options, start);
  const from = start?.offset ?? 0;
  const points = [...new Set([from, ...cuts.filter((c) => c > from && c < bytes.length), bytes.length])].sort(
    (a, b) => a - b,
  );
  const records: FileRecord[] = [];
  for (let i = 0; i + 1 < points.length; i++)
    records.push(...cutter.push(bytes.subarray(points[i], points[i + 1])).records);
  const last = cutter.end();
  records.push(...last.records);
  return { records, broken: last.broken, header: cutter.header };
}

describe('file records', () => {
  it('numbers lines, skipping empty ones and dropping CR', () => {
    const file = Buffer.from('a\r\nb\n\n\nc\r\n\r\nd');
    const { records } = cutAll(lines, file, [2, 3, 7]);
    expect(records.map((r) => [text(r.payload), r.line, r.offset])).toEqual([
      ['a', 1, 0],
      ['b', 2, 3],
      ['c', 5, 7],
      ['d', 7, 12],
    ]);
  });

  it('repeats the CSV header before every group of data lines', () => {
    const file = Buffer.from('device;time;temp_c\nd1;t1;1\nd1;t2;2\nd2;t3;3\n');
    const one = cutAll({ ...lines, header: 'repeat' }, file).records;
    expect(one.map((r) => [text(r.payload), r.line])).toEqual([
      ['device;time;temp_c\nd1;t1;1', 2],
      ['device;time;temp_c\nd1;t2;2', 3],
      ['device;time;temp_c\nd2;t3;3', 4],
    ]);
    const two = cutAll({ ...lines, header: 'repeat', linesPerRecord: 2 }, file, [5, 20]).records;
    expect(two.map((r) => text(r.payload))).toEqual([
      'device;time;temp_c\nd1;t1;1\nd1;t2;2',
      'device;time;temp_c\nd2;t3;3',
    ]);
  });

  it('gives binary frames their offsets, and the bytes of a frame that never ended', () => {
    const framing = framingSchema.parse({ kind: 'length-prefix', lengthBytes: 1 });
    const file = Buffer.from([2, 0xaa, 0xbb, 1, 0xcc, 3, 0xdd]);
    const { records, broken } = cutAll({ framing, header: 'none', linesPerRecord: 1 }, file, [1, 4]);
    expect(records.map((r) => [r.offset, r.end, r.line])).toEqual([
      [0, 3, 0],
      [3, 5, 0],
    ]);
    expect(broken?.offset).toBe(5);
    expect([...broken!.bytes]).toEqual([3, 0xdd]);
  });

  it('reports a broken length with its offset', () => {
    const framing = framingSchema.parse({ kind: 'length-prefix', lengthBytes: 1, maxFrameBytes: 4 });
    const cutter = new FileRecordCutter({ framing, header: 'none', linesPerRecord: 1 });
    const out = cutter.push(Buffer.from([1, 0x01, 200, 1, 2, 3]));
    expect(out.records).toHaveLength(1);
    expect(out.broken?.offset).toBe(2);
    expect(out.broken?.reason).toContain('length field of 200');
  });

  it('cuts the same records however the file is split, and resumes at any record end', () => {
    const line = fc.stringMatching(/^[a-z;0-9]{0,6}$/);
    const fileArb = fc.tuple(
      fc.array(fc.tuple(line, fc.constantFrom('\n', '\r\n', '\n\n')), { minLength: 1, maxLength: 30 }),
      fc.boolean(),
    );
    fc.assert(
      fc.property(
        fileArb,
        fc.array(fc.nat(400)),
        fc.nat(),
        fc.constantFrom(1, 2, 3),
        fc.boolean(),
        ([parts, lastEnds], cuts, pick, per, header) => {
          const body = parts.map(([l, e], i) => (i === parts.length - 1 && !lastEnds ? l : l + e)).join('');
          const file = Buffer.from(`h1;h2\n${body}`);
          const options: CutOptions = header ? { ...lines, header: 'repeat', linesPerRecord: per } : lines;
          const whole = cutAll(options, file);
          const split = cutAll(options, file, cuts);
          expect(split.records).toEqual(whole.records);
          // Line numbers are the file's own.
          const fileLines = file.toString('utf8').split('\n');
          for (const r of whole.records) {
            const first = text(r.payload).split('\n')[header ? 1 : 0]!;
            expect(fileLines[r.line - 1]!.replace(/\r$/, '')).toBe(first);
          }
          if (whole.records.length === 0) return;
          const at = whole.records[pick % whole.records.length]!;
          const resumed = cutAll(options, file, cuts, {
            offset: at.end,
            line: at.endLine,
            header: whole.header,
          });
          expect(resumed.records).toEqual(whole.records.slice(whole.records.indexOf(at) + 1));
        },
      ),
      { numRuns: 300 },
    );
  });
  it('never throws on any bytes under any framing, and accounts for every byte it cut', () => {
    const framingArb = fc.oneof(
      fc.record({ kind: fc.constant('lines' as const), maxFrameBytes: fc.integer({ min: 1, max: 16 }) }),
      fc.record({
        kind: fc.constant('length-prefix' as const),
        lengthBytes: fc.constantFrom(1 as const, 2 as const, 4 as const),
        endian: fc.constantFrom('big' as const, 'little' as const),
        maxFrameBytes: fc.integer({ min: 1, max: 64 }),
      }),
      fc.record({ kind: fc.constant('fixed' as const), frameBytes: fc.integer({ min: 1, max: 9 }) }),
      fc.record({
        kind: fc.constant('delimiter' as const),
        delimiter: fc.constant({ hex: '7e' }),
        maxFrameBytes: fc.integer({ min: 1, max: 16 }),
      }),
    );
    fc.assert(
      fc.property(
        framingArb,
        fc.uint8Array({ maxLength: 300 }),
        fc.array(fc.nat(300)),
        fc.boolean(),
        (input, bytes, cuts, header) => {
          const framing = framingSchema.parse(input);
          const options: CutOptions = {
            framing,
            header: header && framing.kind === 'lines' ? 'repeat' : 'none',
            linesPerRecord: 2,
          };
          const { records, broken } = cutAll(options, bytes, cuts);
          let previousEnd = 0;
          for (const r of records) {
            expect(r.offset).toBeGreaterThanOrEqual(previousEnd);
            expect(r.end).toBeGreaterThan(r.offset);
            expect(r.end).toBeLessThanOrEqual(bytes.length);
            previousEnd = r.end;
          }
          if (broken !== undefined) {
            expect(broken.offset).toBeGreaterThanOrEqual(previousEnd);
            expect(broken.offset + broken.bytes.length).toBe(bytes.length);
            expect(Buffer.from(broken.bytes)).toEqual(Buffer.from(bytes.subarray(broken.offset)));
          }
          if (options.header === 'none' && framing.kind !== 'lines' && framing.kind !== 'delimiter')
            for (const r of records)
              expect(Buffer.from(r.payload)).toEqual(Buffer.from(bytes.subarray(r.offset, r.end)));
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('durable prefix', () => {
  it('moves only over records that are all durable, in file order', async () => {
    const prefix = new DurablePrefix({ offset: 10, line: 1, records: 2 });
    const a = prefix.add(20, 2);
    const b = prefix.add(30, 3);
    const c = prefix.add(40, 4);
    prefix.durable(b);
    expect(prefix.committed).toEqual({ offset: 10, line: 1, records: 2 });
    prefix.durable(a);
    expect(prefix.committed).toEqual({ offset: 30, line: 3, records: 4 });
    const settled = prefix.whenSettled();
    prefix.fail(c, new Error('closed'));
    await settled;
    expect(prefix.committed.offset).toBe(30);
    expect(prefix.failed?.message).toBe('closed');
  });

  it('stays correct past its compaction', () => {
    const prefix = new DurablePrefix({ offset: 0, line: 0, records: 0 });
    const tickets = Array.from({ length: 5000 }, (_, i) => prefix.add(i + 1, 0));
    for (const t of tickets.slice(0, 3000)) prefix.durable(t);
    for (const t of tickets.slice(3001)) prefix.durable(t);
    expect(prefix.committed.records).toBe(3000);
    prefix.durable(tickets[3000]!);
    expect(prefix.committed).toEqual({ offset: 5000, line: 0, records: 5000 });
    expect(prefix.outstanding).toBe(0);
  });
});

describe('file sources', () => {
  it('filters by glob or suffix', () => {
    expect(includes('*.csv', 'logs/a.csv')).toBe(true);
    expect(includes('*.csv', 'logs/a.csv.gz')).toBe(false);
    expect(includes('logs/*.bin', 'logs/x.bin')).toBe(true);
    expect(includes('logs/*.bin', 'logs/deep/x.bin')).toBe(false);
    expect(includes('logs/**/*.bin', 'logs/deep/x.bin')).toBe(true);
    expect(includes('logs/**/*.bin', 'logs/x.bin')).toBe(true);
    expect(includes('.csv', 'a.csv')).toBe(true);
    expect(includes(undefined, 'anything')).toBe(true);
  });

  it('names progress records safely, and partition keys within 256 characters', () => {
    expect(progressNameOf('a/b c.csv')).toBe('a%2Fb%20c.csv.json');
    expect(progressNameOf('x'.repeat(300)).length).toBeLessThan(200);
    expect(filePartitionKey('s3://b/k.csv')).toBe('file:s3://b/k.csv');
    expect(filePartitionKey(`s3://b/${'k'.repeat(300)}`)).toMatch(/^file:[0-9a-f]{64}$/);
  });
});

describe('files gateway config', () => {
  it('has defaults and refuses a header without lines', () => {
    const config = filesGatewayConfigSchema.parse({});
    expect(config.framing.kind).toBe('lines');
    expect(config.concurrency).toBe(2);
    expect(config.s3.forcePathStyle).toBe(false);
    const bad = filesGatewayConfigSchema.safeParse({
      header: 'repeat',
      framing: { kind: 'fixed', frameBytes: 4 },
    });
    expect(bad.success).toBe(false);
    expect(filesGatewayConfigSchema.safeParse({ nope: 1 }).success).toBe(false);
  });
});
