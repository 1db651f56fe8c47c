/**
 * Single-core decode + validate throughput per format: one typical ~200-byte payload per format
 * through the compiled spec's `decode` (frame decoder, ids, timestamps, metrics, contract) and,
 * alternately in the same process, through `interpretiveDecode`, the baseline that walks the spec
 * tree on every record. Both get a pre-read `Incoming`, so envelope parsing is not measured. Reported
 * as telemetry records/s (CSV: rows/s) per second of wall time and per second of process CPU time,
 * median of the runs, and the ratio compiled / interpretive.
 *
 *   npx tsx bench/decodeThroughput.ts [--runs N] [--seconds S] [--out FILE] [--format F]... [--compiled-only]
 *
 * `--format` keeps only the named formats; `--compiled-only` skips the baseline (for profiling with
 * `node --cpu-prof --import tsx bench/decodeThroughput.ts --compiled-only --format hex`).
 */
import { deepStrictEqual } from 'node:assert';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { compileAdmission } from '../operators/decode/admission.ts';
import { compileSpec } from '../operators/decode/compileSpec.ts';
import type { Incoming } from '../operators/decode/envelope.ts';
import { crc16Modbus } from '../operators/decode/formats/checksum.ts';
import { parseSpec } from '../specs/loader.ts';
import type { Spec } from '../specs/schema.ts';
import type { IngestEnvelope, RawRecord } from '../topology/index.ts';
import { interpretiveDecode } from './interpretiveDecoder.ts';
import { count, writeLatestFigures } from './results.ts';

const { values } = parseArgs({
  options: {
    results: { type: 'boolean', default: false },
    runs: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '1' },
    out: { type: 'string' },
    format: { type: 'string', multiple: true },
    'compiled-only': { type: 'boolean', default: false },
  },
});
const RUNS = Number(values.runs);
const RUN_MS = Number(values.seconds) * 1000;
const NOW = Date.UTC(2026, 10, 22, 9, 31, 0); // 2026-11-22 10:31 in Berlin
const TS = Math.floor(NOW / 1000) - 60;

interface Case {
  readonly format: string;
  readonly specFile: string;
  readonly unit: 'records' | 'rows';
  readonly goal: number;
  readonly incoming: Incoming;
}

function loadSpec(file: string): Spec {
  const path = new URL(`../${file}`, import.meta.url).pathname;
  const { spec, problems } = parseSpec(path, readFileSync(path, 'utf8'));
  if (!spec) throw new Error(`${file}: ${problems.map((p) => p.message).join('; ')}`);
  return spec;
}

function envelope(fields: Partial<IngestEnvelope>): IngestEnvelope {
  return { v: 1, protocol: 'mqtt', encoding: 'utf8', receivedAt: NOW, payload: '', ...fields };
}

const u16 = (n: number, le = false) => {
  const b = Buffer.alloc(2);
  le ? b.writeUInt16LE(n) : b.writeUInt16BE(n);
  return b;
};
const i16 = (n: number) => {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n);
  return b;
};
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const i32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** env-h1-wide: env-h1's header, 68 extra readings, one probe, CRC-16/MODBUS. */
function hexFrame(): Uint8Array {
  const body = Buffer.concat([
    Buffer.from('AA5501020304261122103000', 'hex'), // magic, serial, BCD local time
    i16(225), // temperature 22.5
    Buffer.from([45, 0x11]), // humidity, status (battery_low, mode normal)
    ...range(20).map((i) => u32(1_000_000 + i * 7_919)),
    ...range(40).map((i) => i16(-200 + i * 13)),
    ...range(8).map((i) => u16(5_000 + i, true)),
    Buffer.from([1]), // one probe
    u16(2150, true), // 21.50
  ]);
  const crc = crc16Modbus(body);
  return Buffer.concat([body, Buffer.from([crc & 0xff, crc >> 8])]);
}

/** meter-kv2-bytes: serial, the four keys of meter-kv2, an unknown key, 23 registers. */
function kvFrame(): Uint8Array {
  const pair = (key: number, value: Buffer) => Buffer.concat([u16(key), Buffer.from([value.length]), value]);
  return Buffer.concat([
    Buffer.from('MTR00042'),
    pair(0x0001, u16(2300)),
    pair(0x0002, u16(500)),
    pair(0x0099, Buffer.from([0xff])), // unknown: skipped by its length
    pair(0x0003, u32(123_456)),
    pair(0x0010, u32(TS)),
    ...range(23).map((i) => pair(0x21 + i, u32(40_000 + i * 1_237))),
  ]);
}

/** tracker-y3-wide: ten segments split by "|". */
function hybridFrame(): Uint8Array {
  const bar = Buffer.from('|');
  const segments = [
    u32(TS),
    Buffer.concat([i32(52_520_008), i32(13_404_954)]),
    Buffer.from([87, 0x01, 0x2c]),
    Buffer.concat([i16(345), u16(27_000), Buffer.from([9, 12])]),
    Buffer.concat(range(6).map((i) => i16(-300 + i * 101))),
    Buffer.concat(range(8).map((i) => u16(3_700 + i))),
    Buffer.concat(range(8).map((i) => i16(180 + i * 3))),
    Buffer.concat(range(8).map((i) => u32(90_000 + i * 17))),
    Buffer.concat(range(16).map((i) => u16(1_000 + i * 5, true))),
    Buffer.concat(range(16).map((i) => u32(7_000 + i * 311))),
  ];
  return Buffer.concat(segments.flatMap((s, i) => (i === 0 ? [s] : [bar, s])));
}

/** hub-j4: five children's readings in one message. */
function jsonPayload(): Uint8Array {
  const children = range(5).map((i) => ({ id: `c${i + 1}`, t: 19 + i * 0.5, rh: 40 + i }));
  return Buffer.from(JSON.stringify({ ts: TS, hub: 'hub-9', children }));
}

/** logger-c5: a header and five rows. */
function csvPayload(): Uint8Array {
  const rows = range(5).map(
    (i) => `lg-1;2026-11-22T09:${10 + i}:00Z;${(20.5 + i / 10).toFixed(1)};${1013 - i}`,
  );
  return Buffer.from(`device;timestamp;temp_c;pressure_hpa\n${rows.join('\n')}\n`);
}

const cases: Case[] = [
  {
    format: 'hex',
    specFile: 'bench/specs/env-h1-wide.yaml',
    unit: 'records',
    goal: 1_000_000,
    incoming: { envelope: envelope({ protocol: 'tcp', encoding: 'base64' }), payload: hexFrame() },
  },
  {
    format: 'kv',
    specFile: 'bench/specs/meter-kv2-bytes.yaml',
    unit: 'records',
    goal: 700_000,
    incoming: {
      envelope: envelope({ productId: 'meter-kv2-bytes', encoding: 'base64' }),
      payload: kvFrame(),
    },
  },
  {
    format: 'hybrid',
    specFile: 'bench/specs/tracker-y3-wide.yaml',
    unit: 'records',
    goal: 500_000,
    incoming: {
      envelope: envelope({ topic: 'trackers/trk-7/frames', encoding: 'base64' }),
      payload: hybridFrame(),
    },
  },
  {
    format: 'json',
    specFile: 'specs/examples/hub-j4.yaml',
    unit: 'records',
    goal: 300_000,
    incoming: {
      envelope: envelope({ productId: 'hub-j4', topic: 'devices/hub-9/telemetry' }),
      payload: jsonPayload(),
    },
  },
  {
    format: 'csv',
    specFile: 'specs/examples/logger-c5.yaml',
    unit: 'rows',
    goal: 300_000,
    incoming: { envelope: envelope({ productId: 'logger-c5', protocol: 'rest' }), payload: csvPayload() },
  },
];

const record: RawRecord = {
  stream: 'telemetry',
  shardId: 'shardId-000000000000',
  sequenceNumber: '1',
  partitionKey: 'pk',
  arrivedAt: 0,
  data: new Uint8Array(0),
};

type Decode = () => number;

/**
 * Telemetry records per second: `decode` called back to back for at least `ms`; per second of wall
 * time, and per second of the process's CPU time (which a machine shared with other work disturbs
 * less; it includes the GC's helper threads, so it errs low).
 */
function measure(decode: Decode, ms: number): { wall: number; cpu: number } {
  let records = 0;
  const cpu = process.cpuUsage();
  const started = performance.now();
  let elapsed = 0;
  do {
    for (let i = 0; i < 1_000; i++) records += decode();
    elapsed = performance.now() - started;
  } while (elapsed < ms);
  const used = process.cpuUsage(cpu);
  return { wall: records / (elapsed / 1000), cpu: records / ((used.user + used.system) / 1e6) };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const admission = compileAdmission();
const selected = values.format ? cases.filter((c) => values.format!.includes(c.format)) : cases;
const compiledOnly = values['compiled-only'];

const rows = selected.map((c) => {
  const spec = loadSpec(c.specFile);
  const compiled = compileSpec(spec);
  const expected = compiled.decode(record, c.incoming, NOW);
  if (expected.length === 0) throw new Error(`${c.format}: the frame decodes to nothing`);
  // Same telemetry from both, so the two figures compare the same work.
  deepStrictEqual(interpretiveDecode(spec, record, c.incoming, NOW), expected);
  const perPayload = expected.length;
  const compiledDecode: Decode = () => compiled.decode(record, c.incoming, NOW).length;
  // the decode operator also admits every record (what a store could refuse is a dead letter)
  const admit = admission.forSpec(spec);
  const admittedDecode: Decode = () => {
    const out = compiled.decode(record, c.incoming, NOW);
    for (const t of out) admit(t);
    return out.length;
  };
  const interpretiveDecodeOnce: Decode = () => interpretiveDecode(spec, record, c.incoming, NOW).length;
  measure(compiledDecode, RUN_MS / 2); // warm-up
  if (!compiledOnly) measure(interpretiveDecodeOnce, RUN_MS / 2);
  const compiledRuns: { wall: number; cpu: number }[] = [];
  const admittedRuns: { wall: number; cpu: number }[] = [];
  const interpretiveRuns: { wall: number; cpu: number }[] = [];
  for (let i = 0; i < RUNS; i++) {
    compiledRuns.push(measure(compiledDecode, RUN_MS));
    admittedRuns.push(measure(admittedDecode, RUN_MS));
    interpretiveRuns.push(
      compiledOnly ? { wall: Number.NaN, cpu: Number.NaN } : measure(interpretiveDecodeOnce, RUN_MS),
    );
  }
  const compiledPerSecond = median(compiledRuns.map((r) => r.wall));
  const interpretivePerSecond = median(interpretiveRuns.map((r) => r.wall));
  const compiledPerCpuSecond = median(compiledRuns.map((r) => r.cpu));
  const admittedPerCpuSecond = median(admittedRuns.map((r) => r.cpu));
  const interpretivePerCpuSecond = median(interpretiveRuns.map((r) => r.cpu));
  return {
    format: c.format,
    spec: c.specFile,
    payloadBytes: c.incoming.payload.length,
    unit: c.unit,
    perPayload,
    compiledPerSecond: Math.round(compiledPerSecond),
    interpretivePerSecond: Math.round(interpretivePerSecond),
    ratio: Number((compiledPerSecond / interpretivePerSecond).toFixed(2)),
    compiledPerCpuSecond: Math.round(compiledPerCpuSecond),
    interpretivePerCpuSecond: Math.round(interpretivePerCpuSecond),
    cpuRatio: Number((compiledPerCpuSecond / interpretivePerCpuSecond).toFixed(2)),
    admittedPerCpuSecond: Math.round(admittedPerCpuSecond),
    /** Admitted ÷ compiled per CPU-second: what the admission check leaves of the decode rate. */
    admissionRatio: Number((admittedPerCpuSecond / compiledPerCpuSecond).toFixed(2)),
    goal: c.goal,
    meetsGoal: compiledPerSecond >= c.goal,
    runs: {
      compiled: compiledRuns.map((r) => Math.round(r.wall)),
      interpretive: interpretiveRuns.map((r) => Math.round(r.wall)),
    },
  };
});

const result = {
  benchmark: 'decode-throughput',
  runs: RUNS,
  runSeconds: RUN_MS / 1000,
  measured: 'CompiledSpec.decode on a pre-read Incoming (envelope parsing excluded), one process',
  formats: rows,
  machine: {
    cpu: cpus()[0]?.model,
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    loadAverage: loadavg().map((l) => Number(l.toFixed(2))),
  },
  at: new Date().toISOString(),
};

const n = (x: number) => x.toLocaleString('en-US');
console.log(
  'format  bytes  per payload  compiled/s   interpretive/s  ratio  compiled/cpu-s  interpretive/cpu-s  ratio  admitted/cpu-s  ratio  goal        met',
);
for (const r of rows) {
  console.log(
    [
      r.format.padEnd(6),
      String(r.payloadBytes).padStart(5),
      `${r.perPayload} ${r.unit}`.padStart(12),
      n(r.compiledPerSecond).padStart(11),
      n(r.interpretivePerSecond).padStart(15),
      r.ratio.toFixed(2).padStart(6),
      n(r.compiledPerCpuSecond).padStart(14),
      n(r.interpretivePerCpuSecond).padStart(18),
      r.cpuRatio.toFixed(2).padStart(6),
      n(r.admittedPerCpuSecond).padStart(14),
      r.admissionRatio.toFixed(2).padStart(6),
      n(r.goal).padStart(10),
      r.meetsGoal ? '  yes' : '  no',
    ].join('  '),
  );
}
console.log(JSON.stringify(result, null, 2));
if (values.out) writeFileSync(values.out, `${JSON.stringify(result, null, 2)}\n`);
if (values.results) {
  writeLatestFigures({
    name: 'decode',
    heading: '## Decode throughput (`npm run bench:decode`)',
    command: `npm run bench:decode -- --runs ${RUNS} --seconds ${RUN_MS / 1000} --results`,
    lines: [
      `One payload per format through a compiled spec's \`decode\` against the interpretive decoder, alternating, median of ${RUNS} runs of ${RUN_MS / 1000} s; the goal is records (CSV rows) per second on one core. "Admitted" adds the decode operator's admission check (ids, texts, numbers, times) to the compiled decode; its ratio is admitted ÷ compiled per CPU-second.`,
      '',
      '| format | payload | per payload | compiled/s | interpretive/s | ratio | compiled per CPU-s | ratio (CPU) | admitted per CPU-s | admitted ÷ compiled | goal | met |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
      ...rows.map(
        (r) =>
          `| ${r.format} | ${r.payloadBytes} B | ${r.perPayload} ${r.unit} | ${count(r.compiledPerSecond)} | ${count(r.interpretivePerSecond)} | ${r.ratio.toFixed(1)} | ${count(r.compiledPerCpuSecond)} | ${r.cpuRatio.toFixed(1)} | ${count(r.admittedPerCpuSecond)} | ${r.admissionRatio.toFixed(2)} | ${count(r.goal)} | ${r.meetsGoal ? 'yes' : 'no'} |`,
      ),
    ],
  });
}
