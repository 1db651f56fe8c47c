/**
 * The rule operator and its compiled conditions (`operators/rules/`), against the interpretive
 * evaluator of the same rules (`interpretiveRules.ts`), in one process. The workload
 * (`rulesWorkload.ts`): a fleet of devices, each its own partition key, spread over the shards,
 * reporting once a minute in event time; per product a ruleset of threshold rules over several
 * metrics, some stateful (on-delay, hysteresis, repeat, off-delay), read through the real loaders
 * and checks and compiled by `compileRuleset`. Runs:
 *
 * - (a0) the engine alone: the same generated readings through `TopologyRuntime` into a counting
 *   sink, no operator (what (a) pays for generating readings and moving batches);
 * - (a) the rule operator through `TopologyRuntime` on keyed state (embedded store, snapshots every
 *   `--interval-ms` on the real clock): readings per CPU-second, rule state writes per 1,000
 *   readings (`counters.stateWrites`), alarm events;
 * - (b) the compiled conditions alone: every reading × every rule, condition and clear side, in a
 *   tight loop, against (c) the interpretive evaluator on the same readings and rules, chunk by chunk,
 *   alternating which goes first; every verdict of (b) is checked against (c)'s and a mismatch fails
 *   the run.
 *
 * CPU is this process's (`process.cpuUsage`; GC threads included).
 *
 *   npm run bench:rules -- [--devices N] [--readings N] [--rules N] [--stateful N] [--products N]
 *     [--shards N] [--batch N] [--seed N] [--interval-ms N] [--chunk N] [--skip LIST] [--out FILE]
 *     [--results] [--help]
 */
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import type { CompiledThreshold } from '../operators/rules/compile/compileRuleset.ts';
import { type RuleOperator, ruleOperator } from '../operators/rules/ruleOperator.ts';
import type { ThresholdRule } from '../specs/rules/schema.ts';
import {
  type AlarmEvent,
  type Enriched,
  type Operator,
  type ShardHandle,
  type Source,
  type SourceBatch,
  type SourceContext,
  type StateFigures,
  TopologyBuilder,
  TopologyRuntime,
} from '../topology/index.ts';
import { at, cpuMsSince, shardIdOf, storeFor, sumFigures } from './harness/keyedRuns.ts';
import { machineInfo } from './harness/machine.ts';
import { interpretClear, interpretCondition } from './interpretiveRules.ts';
import { wholeOption } from './options.ts';
import { count, ratioToGoal, writeLatestFigures } from './results.ts';
import { RulesFleet, rulesProducts } from './rulesWorkload.ts';

const USAGE = `npm run bench:rules -- [options]   (or: npx tsx bench/ruleThroughput.ts [options])

  --devices N       devices, one partition key each, spread evenly over the shards (default 100000)
  --readings N      readings of each run, split evenly over the shards (default 1000000)
  --rules N         threshold rules per product (default 20)
  --stateful N      of which with on-delay, hysteresis, repeat or off-delay (default 5)
  --products N      products, each with a ruleset of its own (default 3)
  --shards N        shards of the generated source (default 4)
  --batch N         readings per source batch (default 500)
  --seed N          seed of the fleet, its waves and the rulesets (default 1)
  --interval-ms N   checkpoint (snapshot) interval of run (a), real clock (default 1000)
  --chunk N         readings per chunk of runs (b) and (c) (default 50000)
  --skip LIST       leave out some of engine,operator,verdicts (e.g. to profile one)
  --out FILE        also write the result as JSON
  --results         rewrite this benchmark's block in bench/RESULTS.md
  --help            this text
`;

const { values } = parseArgs({
  options: {
    help: { type: 'boolean', short: 'h', default: false },
    results: { type: 'boolean', default: false },
    devices: { type: 'string', default: '100000' },
    readings: { type: 'string', default: '1000000' },
    rules: { type: 'string', default: '20' },
    stateful: { type: 'string', default: '5' },
    products: { type: 'string', default: '3' },
    shards: { type: 'string', default: '4' },
    batch: { type: 'string', default: '500' },
    seed: { type: 'string', default: '1' },
    'interval-ms': { type: 'string', default: '1000' },
    chunk: { type: 'string', default: '50000' },
    skip: { type: 'string', default: '' },
    out: { type: 'string' },
  },
});
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}

/** A whole number ≥ `min` from the option `name`. */
const whole = (name: keyof typeof values, min: number): number => wholeOption(values[name], name, min, USAGE);

const SHARDS = whole('shards', 1);
const DEVICES = whole('devices', SHARDS);
const PER_SHARD = Math.floor(whole('readings', SHARDS) / SHARDS);
const READINGS = PER_SHARD * SHARDS;
const RULES = whole('rules', 1);
const STATEFUL = whole('stateful', 0);
if (STATEFUL > RULES) {
  process.stderr.write(`--stateful must not exceed --rules\n\n${USAGE}`);
  process.exit(2);
}
const PRODUCTS = whole('products', 1);
const BATCH = whole('batch', 1);
const SEED = whole('seed', 1);
const INTERVAL_MS = whole('interval-ms', 0);
const CHUNK = whole('chunk', 1);
const PARTS = ['engine', 'operator', 'verdicts'] as const;
type Part = (typeof PARTS)[number];
const SKIP = new Set(values.skip.split(',').filter((s) => s !== ''));
for (const s of SKIP)
  if (!PARTS.includes(s as Part)) {
    process.stderr.write(`--skip takes ${PARTS.join(',')}\n\n${USAGE}`);
    process.exit(2);
  }
const runs = (part: Part) => !SKIP.has(part);
const RATE_GOAL = 500_000;
const RATIO_GOAL = 5;

const products = rulesProducts(PRODUCTS, RULES, STATEFUL, SEED);
const fleet = new RulesFleet(DEVICES, SHARDS, products, SEED);
const byProduct = new Map(products.map((p) => [p.productId, p.compiled]));

// ---------------------------------------------------------------------------------------------
// (a0), (a): through the runtime

/** Shards of generated readings, made as the runtime pulls them, one turn of the event loop per batch. */
class ReadingSource implements Source<Enriched> {
  readonly type = 'bench-readings';
  readonly positionOf = (r: Enriched): ReturnType<typeof at> => at(Number(r.rawRef.sequenceNumber));

  async *shards(ctx: SourceContext): AsyncIterable<ShardHandle<Enriched>> {
    for (let s = 0; s < SHARDS; s++)
      yield {
        shardId: shardIdOf(s),
        batches: this.batches(s, ctx.signal),
        checkpoint: async () => {},
        release: async () => {},
      };
  }

  private async *batches(s: number, signal: AbortSignal): AsyncGenerator<SourceBatch<Enriched>> {
    let seq = 0;
    while (seq < PER_SHARD && !signal.aborted) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      const n = Math.min(BATCH, PER_SHARD - seq);
      const records: Enriched[] = new Array(n);
      for (let i = 0; i < n; i++) records[i] = fleet.reading(s, seq++);
      yield { records, position: at(seq) };
    }
  }
}

interface RuntimeFigures {
  readonly readings: number;
  readonly wallMs: number;
  readonly cpuMs: number;
  readonly readingsPerSecond: number;
  readonly readingsPerCpuSecond: number;
  readonly delivered: number;
  readonly counters?: RuleOperator['counters'];
  readonly state?: StateFigures;
  readonly eventKinds?: Record<string, number>;
  /** {@link addToDigest} over the alarm events emitted. */
  readonly eventsDigest?: string;
}

/** FNV-1a of a text. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * A digest of alarm events that does not depend on their order (the shards interleave differently
 * from run to run): the sum of each event's hash (id, kind, time, severity, value). Two versions of
 * the operator that emit the same events give the same digest.
 */
function addToDigest(sum: number, e: AlarmEvent): number {
  return (sum + fnv1a(`${e.id}|${e.kind}|${e.at}|${e.episode.severity}|${e.episode.value}`)) >>> 0;
}

/** Runs the readings through the runtime: into a counting sink, or through the rule operator first. */
async function throughRuntime(withOperator: boolean): Promise<RuntimeFigures> {
  const kinds: Record<string, number> = {};
  let delivered = 0;
  let digest = 0;
  const b = new TopologyBuilder('rules-bench');
  const readings = b.source('readings', new ReadingSource());
  let operator: RuleOperator | undefined;
  if (withOperator) {
    operator = ruleOperator({ rulesets: (p) => byProduct.get(p) });
    readings.via('rules', operator as Operator<Enriched, AlarmEvent>).to('alarms', {
      type: 'count',
      write: async (batch) => {
        delivered += batch.length;
        for (const e of batch) {
          kinds[e.kind] = (kinds[e.kind] ?? 0) + 1;
          digest = addToDigest(digest, e);
        }
      },
    });
  } else {
    readings.to('readings-out', {
      type: 'count',
      write: async (batch) => {
        delivered += batch.length;
      },
    });
  }
  const store = withOperator ? storeFor('embedded', undefined, 'bench.rules') : undefined;
  const runtime = new TopologyRuntime(b.build(), {
    checkpointIntervalMs: INTERVAL_MS,
    ...(store === undefined ? {} : { stateStore: store }),
  });
  const figures = new Map<string, StateFigures>();
  runtime.events.subscribe((event) => {
    if (event.type !== 'checkpoint') return;
    for (const shard of runtime.metrics().shards) if (shard.state) figures.set(shard.shardId, shard.state);
  });
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await runtime.run();
  const wallMs = performance.now() - t0;
  const cpuMs = cpuMsSince(cpu0);
  return {
    readings: READINGS,
    wallMs,
    cpuMs,
    readingsPerSecond: READINGS / (wallMs / 1000),
    readingsPerCpuSecond: READINGS / (cpuMs / 1000),
    delivered,
    ...(operator === undefined
      ? {}
      : {
          counters: { ...operator.counters },
          state: sumFigures(figures.values()),
          eventKinds: kinds,
          eventsDigest: digest.toString(16).padStart(8, '0'),
        }),
  };
}

// ---------------------------------------------------------------------------------------------
// (b), (c): the conditions alone

/** A verdict as a small number: false 0, true 1, unknown 2. */
const code = (v: boolean | undefined) => (v === undefined ? 2 : v ? 1 : 0);

interface VerdictFigures {
  readonly readings: number;
  /** Readings × rules × 2 (condition and clear side). */
  readonly verdicts: number;
  readonly compiledCpuMs: number;
  readonly interpretiveCpuMs: number;
  readonly compiledReadingsPerCpuSecond: number;
  readonly interpretiveReadingsPerCpuSecond: number;
  readonly ratio: number;
  readonly mismatches: number;
  /** Share of condition verdicts true, unknown. */
  readonly trueShare: number;
  readonly unknownShare: number;
  /**
   * Edges of a rule's condition on a device (it begins or stops holding from one reading to the
   * next; before its first reading it does not hold), per 1,000 readings: the transitions.
   */
  readonly conditionEdgesPer1000: number;
}

/** The compiled conditions: condition and clear side of every rule on every reading, into `out`. */
function compiledVerdicts(
  chunk: readonly Enriched[],
  rulesOf: ReadonlyMap<string, readonly CompiledThreshold[]>,
  out: Uint8Array,
): void {
  let k = 0;
  for (const r of chunk) {
    const rules = rulesOf.get(r.productId)!;
    for (let j = 0; j < rules.length; j++) {
      const rule = rules[j]!;
      out[k++] = code(rule.condition(r));
      out[k++] = code(rule.clear(r));
    }
  }
}

/** The interpretive evaluator on the same readings and rules, into `out`. */
function interpretiveVerdicts(
  chunk: readonly Enriched[],
  rulesOf: ReadonlyMap<string, readonly ThresholdRule[]>,
  out: Uint8Array,
): void {
  let k = 0;
  for (const r of chunk) {
    const rules = rulesOf.get(r.productId)!;
    for (let j = 0; j < rules.length; j++) {
      const rule = rules[j]!;
      out[k++] = code(interpretCondition(rule.when, r.metrics));
      out[k++] = code(interpretClear(rule, r.metrics));
    }
  }
}

function verdictRuns(): VerdictFigures {
  const compiledOf = new Map(
    products.map((p) => [
      p.productId,
      p.compiled.rules.filter((r): r is CompiledThreshold => r.kind === 'threshold'),
    ]),
  );
  const treeOf = new Map(
    products.map((p) => [
      p.productId,
      p.ruleset.rules.filter((r): r is ThresholdRule => r.kind === 'threshold'),
    ]),
  );
  const width = Math.max(...[...compiledOf.values()].map((r) => r.length));
  const compiled = new Uint8Array(CHUNK * width * 2);
  const interpreted = new Uint8Array(CHUNK * width * 2);
  const holding = new Uint8Array(DEVICES * width);
  let compiledCpuMs = 0;
  let interpretiveCpuMs = 0;
  let verdicts = 0;
  let mismatches = 0;
  let trues = 0;
  let unknowns = 0;
  let edges = 0;
  let chunks = 0;
  // the shards' readings in the order the runtime interleaves them closely enough: shard by shard per chunk
  const perShardChunk = Math.max(1, Math.floor(CHUNK / SHARDS));
  // both warmed up (optimized by the JIT) on the first readings of every shard, untimed
  const warm: Enriched[] = [];
  for (let s = 0; s < SHARDS; s++)
    for (let i = 0; i < Math.min(PER_SHARD, Math.ceil(CHUNK / SHARDS)); i++) warm.push(fleet.reading(s, i));
  for (let i = 0; i < 3; i++) {
    compiledVerdicts(warm, compiledOf, compiled);
    interpretiveVerdicts(warm, treeOf, interpreted);
  }
  for (let from = 0; from < PER_SHARD; from += perShardChunk) {
    const chunk: Enriched[] = [];
    const devices: number[] = [];
    for (let s = 0; s < SHARDS; s++)
      for (let seq = from; seq < Math.min(PER_SHARD, from + perShardChunk); seq++) {
        chunk.push(fleet.reading(s, seq));
        devices.push(fleet.deviceIndex(s, seq));
      }
    const timeCompiled = () => {
      const cpu = process.cpuUsage();
      compiledVerdicts(chunk, compiledOf, compiled);
      compiledCpuMs += cpuMsSince(cpu);
    };
    const timeInterpretive = () => {
      const cpu = process.cpuUsage();
      interpretiveVerdicts(chunk, treeOf, interpreted);
      interpretiveCpuMs += cpuMsSince(cpu);
    };
    if (chunks++ % 2 === 0) {
      timeCompiled();
      timeInterpretive();
    } else {
      timeInterpretive();
      timeCompiled();
    }
    let k = 0;
    for (let i = 0; i < chunk.length; i++) {
      const n = compiledOf.get(chunk[i]!.productId)!.length;
      for (let j = 0; j < n; j++, k += 2) {
        if (compiled[k] !== interpreted[k] || compiled[k + 1] !== interpreted[k + 1]) mismatches++;
        const v = compiled[k]!;
        if (v === 1) trues++;
        else if (v === 2) unknowns++;
        const slot = devices[i]! * width + j;
        const holds = v === 1 ? 1 : 0;
        if (holding[slot] !== holds) edges++;
        holding[slot] = holds;
      }
    }
    verdicts += k;
  }
  const conditions = verdicts / 2;
  return {
    readings: READINGS,
    verdicts,
    compiledCpuMs,
    interpretiveCpuMs,
    compiledReadingsPerCpuSecond: READINGS / (compiledCpuMs / 1000),
    interpretiveReadingsPerCpuSecond: READINGS / (interpretiveCpuMs / 1000),
    ratio: interpretiveCpuMs / compiledCpuMs,
    mismatches,
    trueShare: trues / conditions,
    unknownShare: unknowns / conditions,
    conditionEdgesPer1000: (edges / READINGS) * 1000,
  };
}

// ---------------------------------------------------------------------------------------------
// Main

async function main(): Promise<void> {
  const machine = machineInfo();
  const startLoad = loadavg();
  let engine: RuntimeFigures | undefined;
  let operator: RuntimeFigures | undefined;
  let verdicts: VerdictFigures | undefined;
  if (runs('engine')) {
    process.stderr.write('(a0) engine alone…\n');
    engine = await throughRuntime(false);
    process.stderr.write(`(a0): ${count(engine.readingsPerCpuSecond)} readings per CPU-second\n`);
  }
  if (runs('operator')) {
    process.stderr.write('(a) rule operator…\n');
    operator = await throughRuntime(true);
    process.stderr.write(`(a): ${count(operator.readingsPerCpuSecond)} readings per CPU-second\n`);
  }
  if (runs('verdicts')) {
    process.stderr.write('(b), (c) compiled and interpretive conditions…\n');
    verdicts = verdictRuns();
    process.stderr.write(
      `(b): ${count(verdicts.compiledReadingsPerCpuSecond)}, (c): ${count(verdicts.interpretiveReadingsPerCpuSecond)} readings per CPU-second; mismatches ${verdicts.mismatches}\n`,
    );
  }
  const writesPer1000 = operator?.counters && (operator.counters.stateWrites / READINGS) * 1000;
  // the operator's own CPU: (a) less (a0), the same readings generated and moved by the same engine
  const operatorOnlyPerCpuSecond =
    operator && engine && operator.cpuMs > engine.cpuMs
      ? READINGS / ((operator.cpuMs - engine.cpuMs) / 1000)
      : undefined;
  const result = {
    benchmark: 'rules',
    at: new Date().toISOString(),
    machine,
    loadAverage: { start: startLoad, end: loadavg() },
    parameters: {
      devices: DEVICES,
      readings: READINGS,
      products: PRODUCTS,
      rules: RULES,
      stateful: STATEFUL,
      shards: SHARDS,
      batch: BATCH,
      seed: SEED,
      intervalMs: INTERVAL_MS,
      chunk: CHUNK,
    },
    engine,
    operator: operator && { ...operator, writesPer1000, operatorOnlyPerCpuSecond },
    verdicts,
  };
  console.log(JSON.stringify(result, null, 2));
  if (values.out) writeFileSync(values.out, `${JSON.stringify(result, null, 2)}\n`);
  if (values.results) writeResults(engine, operator, verdicts, writesPer1000, operatorOnlyPerCpuSecond);
  if (verdicts !== undefined && verdicts.mismatches > 0) {
    process.stderr.write(
      `${verdicts.mismatches} verdicts of the compiled rules differ from the interpretive evaluator's\n`,
    );
    process.exitCode = 1;
  }
}

function writeResults(
  engine: RuntimeFigures | undefined,
  operator: RuntimeFigures | undefined,
  verdicts: VerdictFigures | undefined,
  writesPer1000: number | undefined,
  operatorOnly: number | undefined,
): void {
  const n = (x: number | undefined, digits = 0) =>
    x !== undefined && Number.isFinite(x)
      ? x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
      : '–';
  const runtimeRow = (label: string, f: RuntimeFigures | undefined, extra: string) =>
    f === undefined
      ? `| ${label} | skipped | | | | |`
      : `| ${label} | ${count(f.readings)} | ${n(f.readingsPerSecond)} | ${n(f.readingsPerCpuSecond)} | ${n(f.cpuMs)} | ${extra} |`;
  const c = operator?.counters;
  const kinds = operator?.eventKinds ?? {};
  const rate = operator?.readingsPerCpuSecond;
  const met = (ok: boolean | undefined) => (ok === undefined ? 'not run' : ok ? 'met' : 'not met');
  writeLatestFigures({
    name: 'rules',
    heading: '## Rules (`npm run bench:rules`)',
    command: `npm run bench:rules -- --devices ${DEVICES} --readings ${READINGS} --rules ${RULES} --stateful ${STATEFUL} --products ${PRODUCTS} --shards ${SHARDS} --batch ${BATCH} --seed ${SEED} --interval-ms ${INTERVAL_MS} --chunk ${CHUNK}${SKIP.size > 0 ? ` --skip ${[...SKIP].join(',')}` : ''} --results`,
    lines: [
      `${count(DEVICES)} devices (each its own partition key) on ${SHARDS} shards, reporting once a minute in event time (${n(READINGS / DEVICES, 1)} readings each), ${PRODUCTS} products, each a ruleset of ${RULES} threshold rules (${STATEFUL} with on-delay, hysteresis, repeat, off-delay or all of them; conditions over several metrics with all / any / not, expressions, a text comparison), generated from seed ${SEED}, read through the ruleset loader and checks against a generated spec, compiled by \`compileRuleset\`. ${BATCH}-reading batches generated as pulled. CPU = this process (\`process.cpuUsage\`).`,
      '',
      '| run | readings | readings / s | readings / CPU-s | CPU ms | |',
      '|---|---:|---:|---:|---:|---|',
      runtimeRow(
        '(a0) the engine alone: generated readings → `TopologyRuntime` → a counting sink',
        engine,
        '',
      ),
      runtimeRow(
        `(a) the rule operator through \`TopologyRuntime\`, keyed state in the embedded store, snapshots every ${count(INTERVAL_MS)} ms`,
        operator,
        c
          ? `state writes ${count(c.stateWrites)} (${n(writesPer1000, 1)} per 1,000 readings); alarm events ${count(c.events)} (${Object.entries(
              kinds,
            )
              .map(([k, v]) => `${k} ${count(v)}`)
              .join(
                ', ',
              )}, digest ${operator!.eventsDigest}); late ${count(c.late)}; snapshots ${count(operator!.state?.snapshots ?? 0)} of ${count(operator!.state?.entries ?? 0)} entries`
          : '',
      ),
      verdicts === undefined
        ? '| (b) compiled conditions alone | skipped | | | | |'
        : `| (b) compiled conditions alone (every rule's condition and clear side on every reading) | ${count(verdicts.readings)} | – | ${n(verdicts.compiledReadingsPerCpuSecond)} | ${n(verdicts.compiledCpuMs)} | ${count(verdicts.verdicts)} verdicts, ${n(verdicts.verdicts / (verdicts.compiledCpuMs / 1000))} per CPU-s |`,
      verdicts === undefined
        ? '| (c) interpretive evaluator | skipped | | | | |'
        : `| (c) baseline: the interpretive evaluator (\`interpretiveRules.ts\`), same readings and rules | ${count(verdicts.readings)} | – | ${n(verdicts.interpretiveReadingsPerCpuSecond)} | ${n(verdicts.interpretiveCpuMs)} | mismatches with (b): ${count(verdicts.mismatches)} |`,
      '',
      `The operator's own cost, (a) less (a0): ${n(operatorOnly)} readings per CPU-second. Condition verdicts: ${n((verdicts?.trueShare ?? Number.NaN) * 100, 1)} % true, ${n((verdicts?.unknownShare ?? Number.NaN) * 100, 1)} % unknown; a rule's condition begins or stops holding on a device (from one reading to its next; not holding before the first) ${n(verdicts?.conditionEdgesPer1000, 1)} times per 1,000 readings; alarm events ${n(c ? (c.events / READINGS) * 1000 : undefined, 1)} per 1,000 readings.`,
      '',
      `Goals: ≥ ${count(RATE_GOAL)} readings per CPU-second through the operator (a): ${n(rate)}, ${n(rate === undefined ? undefined : rate / RATE_GOAL, 2)} of it (${met(rate === undefined ? undefined : rate >= RATE_GOAL)}); compiled ≥ ${RATIO_GOAL}× the interpretive evaluator by CPU: ${verdicts ? ratioToGoal(verdicts.ratio, RATIO_GOAL, 1) : 'not run'}; every verdict the same: ${verdicts ? (verdicts.mismatches === 0 ? 'yes' : `no, ${count(verdicts.mismatches)} differ`) : 'not run'}; state written only on transitions: ${n(writesPer1000, 1)} writes per 1,000 readings (${n(writesPer1000 === undefined ? undefined : writesPer1000 / RULES, 2)} per 1,000 rule judgements), ${n(writesPer1000 !== undefined && verdicts ? writesPer1000 / verdicts.conditionEdgesPer1000 : undefined, 2)} per condition edge (${n(verdicts?.conditionEdgesPer1000, 1)} edges per 1,000 readings; an edge writes once, a gate completing on its timer once more).`,
    ],
  });
}

await main();
