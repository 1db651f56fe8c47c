/**
 * The workload of `bench:rules` (`ruleThroughput.ts`): per product a generated spec (JSON telemetry,
 * nine number metrics and a text `mode`) and a ruleset of threshold rules over several metrics
 * (`all` / `any` / `not`, expressions, a text comparison), some of them stateful (on-delay,
 * hysteresis, repeat, off-delay, and all of these together), both written as YAML and read through
 * the real loaders and checks, then compiled; and the enriched readings of a fleet, generated in a
 * fixed order from a seed.
 *
 * A device's metrics follow slow sine waves of their own (periods of 1 h to 6 h, phases per device
 * and metric) plus noise of ±2.5 % of the wave's height; `mode` changes every 1 h to 8 h, so that a condition holds for stretches and changes now and then,
 * as real telemetry does; thresholds sit in the waves' top or bottom few percent. Every 100th reading
 * lacks `humidity` and every 200th has `co2` null, so unknown verdicts occur too.
 */
import { mulberry32 } from '../gateways/simulator/fleet.ts';
import { type CompiledRuleset, compileRuleset } from '../operators/rules/compile/compileRuleset.ts';
import { parseSpec } from '../specs/loader.ts';
import { parseRuleset } from '../specs/rules/loader.ts';
import type { Ruleset } from '../specs/rules/schema.ts';
import type { Enriched } from '../topology/index.ts';

/** The number metrics every generated product has: the wave's middle and half its height. */
const WAVES = [
  { name: 'temperature', mid: 22, amp: 8 },
  { name: 'humidity', mid: 50, amp: 20 },
  { name: 'pressure', mid: 1013, amp: 15 },
  { name: 'co2', mid: 800, amp: 400 },
  { name: 'voc', mid: 0.5, amp: 0.3 },
  { name: 'pm25', mid: 20, amp: 15 },
  { name: 'battery', mid: 3.6, amp: 0.4 },
  { name: 'rssi', mid: -70, amp: 15 },
  { name: 'noise', mid: 45, amp: 15 },
] as const;
const MODES = ['eco', 'normal', 'boost'] as const;
const HUMIDITY = WAVES.findIndex((w) => w.name === 'humidity');
const CO2 = WAVES.findIndex((w) => w.name === 'co2');

/** One day, a Monday, 00:00 UTC: the readings start here. */
export const T0 = Date.UTC(2026, 0, 5);
/** Each device reports once a minute (event time). */
export const REPORT_EVERY_MS = 60_000;

/** A product of the workload: its spec's id and its ruleset, as loaded and as compiled. */
export interface RulesProduct {
  readonly productId: string;
  readonly ruleset: Ruleset;
  readonly compiled: CompiledRuleset;
}

/** The spec of a generated product: JSON telemetry with the workload's metrics. */
export function productSpecYaml(productId: string): string {
  const fields = [...WAVES.map((w) => w.name), 'mode'].map((m) => `    ${m}: metrics.${m}`).join('\n');
  const contract = [
    ...WAVES.map((w) => `    ${w.name}: { type: number }`),
    '    mode: { type: string }',
  ].join('\n');
  return `id: ${productId}
version: 1
productId: ${productId}
description: generated for bench:rules
match:
  productId: ${productId}
format:
  type: json
  fields:
    device_id: device_id
    ts: ts
${fields}
telemetry:
  deviceId: { from: field, field: device_id }
  timestamp: { field: ts, kind: epoch-ms }
contract:
  metrics:
${contract}
`;
}

/** The product's wave parameters: each product scales the common waves a little differently. */
function wavesOf(product: number): { name: string; mid: number; amp: number }[] {
  return WAVES.map((w, i) => ({ name: w.name, mid: w.mid * (1 + 0.05 * ((product + i) % 3)), amp: w.amp }));
}

const round = (x: number) => Math.round(x * 1000) / 1000;

/**
 * A ruleset of `rules` threshold rules for product `p`, `stateful` of them with gates (cycling
 * through on-delay, hysteresis, repeat, off-delay and all of them), as YAML.
 */
export function rulesetYaml(
  productId: string,
  p: number,
  rules: number,
  stateful: number,
  seed: number,
): string {
  const random = mulberry32(seed * 1009 + p);
  const waves = wavesOf(p);
  const pick = () => waves[Math.floor(random() * waves.length)]!;
  const two = () => {
    const a = pick();
    let b = pick();
    while (b === a) b = pick();
    return [a, b] as const;
  };
  /** A comparison that holds in the wave's top (or bottom) `1 - q` of its height. */
  const high = (w: { name: string; mid: number; amp: number }, q: number) =>
    `{ metric: ${w.name}, op: ">", value: ${round(w.mid + q * w.amp)} }`;
  const low = (w: { name: string; mid: number; amp: number }, q: number) =>
    `{ metric: ${w.name}, op: "<", value: ${round(w.mid - q * w.amp)} }`;
  const q = () => round(0.97 + 0.025 * random());
  const plain: (() => string)[] = [
    () => `when: ${high(pick(), q())}`,
    () => `when: ${low(pick(), q())}`,
    () => {
      const [a, b] = two();
      return `when: { all: [${high(a, 0.8)}, ${high(b, 0.8)}] }`;
    },
    () => {
      const [a, b] = two();
      return `when: { any: [${high(a, 0.995)}, ${low(b, 0.995)}, { all: [{ metric: mode, op: "==", value: boost }, ${high(a, 0.97)}] }] }`;
    },
    () => `when: { all: [{ metric: mode, op: "==", value: boost }, ${high(pick(), 0.9)}] }`,
    () => {
      const [a, b] = two();
      return `when: { all: [${high(a, 0.95)}, { not: ${low(b, 0.2)} }] }`;
    },
    () => {
      const w = pick();
      return `when: { expr: "abs(${w.name} - ${round(w.mid)})", op: ">", value: ${round((q() + 0.01) * w.amp)} }`;
    },
    () => {
      const [a, b] = two();
      return `when: { expr: "max(${a.name} / ${round(a.amp)}, ${b.name} / ${round(b.amp)})", op: ">", value: ${round(Math.max(a.mid / a.amp, b.mid / b.amp) + 0.99)} }`;
    },
    () => {
      const [a, b] = two();
      return `when: { any: [{ all: [${high(a, 0.8)}, ${high(b, 0.8)}] }, { all: [{ not: { metric: mode, op: "!=", value: eco } }, ${low(b, 0.95)}] }] }`;
    },
  ];
  const gated: (() => string)[] = [
    () => `when: ${high(pick(), 0.95)}\n    onDelay: 2m`,
    () => {
      const w = pick();
      return `when: ${high(w, 0.97)}\n    clear: { hysteresis: ${round(0.1 * w.amp)} }`;
    },
    () => {
      const [a, b] = two();
      return `when: { any: [${high(a, 0.97)}, ${low(b, 0.97)}] }\n    repeat: { count: 2, within: 10m }`;
    },
    () => {
      const [a, b] = two();
      return `when: { all: [${high(a, 0.95)}, ${high(b, 0)}] }\n    offDelay: 3m`;
    },
    () => {
      const w = pick();
      return `when: ${low(w, 0.97)}\n    clear: { hysteresis: ${round(0.1 * w.amp)} }\n    onDelay: 1m\n    offDelay: 2m`;
    },
  ];
  const lines = [`id: ${productId}-rules`, `productId: ${productId}`, 'version: 1', 'rules:'];
  const severities = ['info', 'minor', 'major', 'critical'];
  for (let i = 0; i < rules; i++) {
    // the stateful rules spread among the others
    const isGated =
      i < rules && Math.floor(((i + 1) * stateful) / rules) > Math.floor((i * stateful) / rules);
    const g = Math.floor((i * stateful) / rules);
    const body = isGated ? gated[g % gated.length]!() : plain[i % plain.length]!();
    lines.push(
      `  - id: r${String(i).padStart(2, '0')}`,
      '    kind: threshold',
      `    severity: ${severities[i % severities.length]}`,
      `    ${body}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** The workload's products, their specs and rulesets read through the loaders and compiled. */
export function rulesProducts(
  products: number,
  rules: number,
  stateful: number,
  seed: number,
): RulesProduct[] {
  return Array.from({ length: products }, (_, p) => {
    const productId = `rules-bench-${p}`;
    const spec = parseSpec(`${productId}.yaml`, productSpecYaml(productId));
    if (spec.spec === undefined) throw new Error(problemsText(spec.problems));
    const loaded = parseRuleset(
      `${productId}.rules.yaml`,
      rulesetYaml(productId, p, rules, stateful, seed),
      (id) => (id === productId ? [spec.spec!] : []),
    );
    if (loaded.ruleset === undefined) throw new Error(problemsText(loaded.problems));
    return { productId, ruleset: loaded.ruleset, compiled: compileRuleset(loaded.ruleset) };
  });
}

function problemsText(problems: readonly { file: string; line: number; message: string }[]): string {
  return problems.map((p) => `${p.file}:${p.line}: ${p.message}`).join('\n');
}

/** A device of the fleet: what its readings share, and its waves' phases and frequencies. */
interface Device {
  readonly index: number;
  readonly productIndex: number;
  readonly device_id: string;
  readonly productId: string;
  readonly site_id: string;
  readonly customer_id: string;
  readonly rawRef: Enriched['rawRef'];
  /** Event-time offset within each minute (ms). */
  readonly offsetMs: number;
  /** Per wave: cycles per ms, and the phase (cycles). */
  readonly frequency: Float64Array;
  readonly phase: Float64Array;
  /** Mode changes every this many ms. */
  readonly modeEveryMs: number;
}

/** The fleet: devices spread over shards (device `d` on shard `d % shards`), each shard's in a shuffled order. */
export class RulesFleet {
  /** Each shard's devices in the order they report. */
  readonly shards: readonly (readonly Device[])[];
  private readonly waves: readonly { mid: number; amp: number }[][];

  constructor(devices: number, shardCount: number, products: readonly RulesProduct[], seed: number) {
    this.waves = products.map((_, p) => wavesOf(p));
    const random = mulberry32(seed);
    const all: Device[] = [];
    for (let d = 0; d < devices; d++) {
      const id = `dev-${String(d).padStart(6, '0')}`;
      const p = d % products.length;
      const frequency = new Float64Array(WAVES.length);
      const phase = new Float64Array(WAVES.length);
      for (let m = 0; m < WAVES.length; m++) {
        frequency[m] = 1 / ((60 + 300 * random()) * 60_000);
        phase[m] = random();
      }
      all.push({
        index: d,
        productIndex: p,
        device_id: id,
        productId: products[p]!.productId,
        site_id: `site-${d % 5000}`,
        customer_id: `cust-${d % 1000}`,
        rawRef: {
          protocol: 'mqtt',
          format: 'json',
          stream: 'bench',
          shardId: `shardId-${String(d % shardCount).padStart(12, '0')}`,
          sequenceNumber: '0',
          partitionKey: id,
        },
        offsetMs: Math.floor(random() * REPORT_EVERY_MS),
        frequency,
        phase,
        modeEveryMs: (60 + Math.floor(random() * 420)) * 60_000,
      });
    }
    this.shards = Array.from({ length: shardCount }, (_, s) => {
      const mine = all.filter((d) => d.index % shardCount === s);
      const shuffle = mulberry32(seed * 31 + s + 1);
      for (let i = mine.length - 1; i > 0; i--) {
        const j = Math.floor(shuffle() * (i + 1));
        [mine[i], mine[j]] = [mine[j]!, mine[i]!];
      }
      return mine;
    });
  }

  /**
   * Reading `seq` (from 0) of shard `s`: its devices report in turn, a round a minute. The same
   * (s, seq) always gives the same reading.
   */
  reading(s: number, seq: number): Enriched {
    const devices = this.shards[s]!;
    const d = devices[seq % devices.length]!;
    const t = T0 + Math.floor(seq / devices.length) * REPORT_EVERY_MS + d.offsetMs;
    const waves = this.waves[d.productIndex]!;
    // noise from the position alone (a hash), so that any cut of the readings gives the same values
    let h = Math.imul(seq ^ (s << 24), 0x9e3779b1) >>> 0;
    const values: number[] = new Array(WAVES.length);
    for (let m = 0; m < WAVES.length; m++) {
      h = Math.imul(h ^ (h >>> 15), 0x85ebca6b) >>> 0;
      const w = waves[m]!;
      const noise = (h / 4294967296 - 0.5) * 0.05 * w.amp;
      values[m] = round(w.mid + w.amp * Math.sin(2 * Math.PI * (t * d.frequency[m]! + d.phase[m]!)) + noise);
    }
    const mode = MODES[Math.floor(t / d.modeEveryMs + d.index) % MODES.length]!;
    const metrics: Record<string, number | string | null> = {};
    for (let m = 0; m < WAVES.length; m++) {
      if (m === HUMIDITY && seq % 100 === 7) continue;
      metrics[WAVES[m]!.name] = m === CO2 && seq % 200 === 13 ? null : values[m]!;
    }
    metrics.mode = mode;
    return {
      device_id: d.device_id,
      device_timestamp: t,
      ingest_timestamp: t + 250,
      productId: d.productId,
      metrics,
      rawRef: { ...d.rawRef, sequenceNumber: String(seq) },
      site_id: d.site_id,
      customer_id: d.customer_id,
    };
  }

  /** The fleet index of the device of reading `seq` of shard `s`. */
  deviceIndex(s: number, seq: number): number {
    const devices = this.shards[s]!;
    return devices[seq % devices.length]!.index;
  }
}
