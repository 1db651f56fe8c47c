/**
 * Formulas over the daily aggregates (`sinks/formulas/`, `specs/formulas/`), in one process:
 *
 * - (a) evaluation: every customer × product day of `--customers` × `--products` (the aggregates of
 *   five metrics, generated, `formulaWorkload.ts`) through `evaluateDay` with each product's
 *   `--formulas` formulas compiled once, as the sink evaluates a day: formula results per CPU-second.
 *   (b), the baseline, runs the same days through the same `evaluateDay` with each formula evaluated
 *   by `math.evaluate` on every call (a plain mathjs instance made the same way); chunk by chunk,
 *   alternating which goes first, every result compared (a mismatch fails the run).
 * - (c) writes: the same day's results, made as the sink makes them (`resultRows`), upserted by
 *   `writeFormulaResults` on one connection into a throwaway PostgreSQL (or `--postgres-url`,
 *   migrated by `migrateWarm`), then written again: a replay, which the forward-only upsert must
 *   leave as it is (no row changed, `computed_at` included).
 * - (d) the worst case: the costliest expressions the allowlist accepts within 1,024 characters
 *   (`formulaWorstCase.ts`), time and heap allocated per evaluation.
 *
 * CPU is this process's (`process.cpuUsage`; GC threads included); PostgreSQL's is its backend's
 * (`/proc`), when the benchmark started the server.
 *
 *   npm run bench:formulas -- [--customers N] [--products N] [--formulas N] [--evaluations N]
 *     [--skip LIST] [--postgres-url URL] [--out FILE] [--results] [--help]
 */
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { type DayResult, evaluateDay } from '../sinks/formulas/index.ts';
import { dayAggregates, evaluatedEachCall, productFormulas, productOfDay } from './formulaWorkload.ts';
import { type WorstCaseFigures, worstCaseRuns } from './formulaWorstCase.ts';
import { type WriteFigures, writeRuns } from './formulaWrites.ts';
import { cpuMsSince } from './harness/keyedRuns.ts';
import { machineInfo } from './harness/machine.ts';
import { wholeOption } from './options.ts';
import { count, ratioToGoal, writeLatestFigures } from './results.ts';

const USAGE = `npm run bench:formulas -- [options]   (or: npx tsx --expose-gc bench/formulaThroughput.ts [options])

  --customers N       customers, each with a day of every product (default 10000)
  --products N        products, each with formulas of its own (default 20)
  --formulas N        formulas per product: cop, duty, overheat, spread, cop per hour, repeated (default 5)
  --evaluations N     timed evaluations of each worst-case expression, fewer when they take
                      more than 5 s (default 10000)
  --skip LIST         leave out some of evaluations,writes,worst
  --postgres-url URL  write into this database (its formula_results rows of the benchmark's products
                      are deleted before and after) instead of a throwaway PostgreSQL
                      (default: SHARDFLOW_BENCH_POSTGRES_URL, else a throwaway cluster)
  --out FILE          also write the result as JSON
  --results           rewrite this benchmark's block in bench/RESULTS.md
  --help              this text
`;

const { values } = parseArgs({
  options: {
    help: { type: 'boolean', short: 'h', default: false },
    results: { type: 'boolean', default: false },
    customers: { type: 'string', default: '10000' },
    products: { type: 'string', default: '20' },
    formulas: { type: 'string', default: '5' },
    evaluations: { type: 'string', default: '10000' },
    skip: { type: 'string', default: '' },
    'postgres-url': { type: 'string', default: process.env.SHARDFLOW_BENCH_POSTGRES_URL },
    out: { type: 'string' },
  },
});
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}

/** A whole number ≥ `min` from the option `name`. */
const whole = (name: keyof typeof values, min: number): number => wholeOption(values[name], name, min, USAGE);

const CUSTOMERS = whole('customers', 1);
const PRODUCTS = whole('products', 1);
const FORMULAS = whole('formulas', 1);
const EVALUATIONS = whole('evaluations', 20);
const PARTS = ['evaluations', 'writes', 'worst'] as const;
type Part = (typeof PARTS)[number];
const SKIP = new Set(values.skip.split(',').filter((s) => s !== ''));
for (const s of SKIP)
  if (!PARTS.includes(s as Part)) {
    process.stderr.write(`--skip takes ${PARTS.join(',')}\n\n${USAGE}`);
    process.exit(2);
  }
const runs = (part: Part) => !SKIP.has(part);
const DAYS = CUSTOMERS * PRODUCTS;
/** Days per chunk of runs (a) and (b). */
const CHUNK = 5000;
const RATE_GOAL = 300_000;
const WRITE_GOAL_S = 60;
const WORST_US_CLAIM = 1000;
const WORST_BYTES_CLAIM = 1_048_576;

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined && runs('worst'))
  process.stderr.write('no --expose-gc: collections are not forced before the worst-case runs\n');

const inForce = Array.from({ length: PRODUCTS }, (_, p) => productFormulas(p, FORMULAS));
const eachCall = inForce.map(evaluatedEachCall);

/** A day's aggregates by metric. */
type DayAggregates = ReturnType<typeof dayAggregates>;

// ---------------------------------------------------------------------------------------------
// (a), (b): evaluation

interface EvaluationFigures {
  readonly days: number;
  readonly results: number;
  /** Results without a value (a missing aggregate, an input formula without a result…). */
  readonly withoutValue: number;
  readonly compiledCpuMs: number;
  readonly eachCallCpuMs: number;
  readonly compiledPerCpuSecond: number;
  readonly eachCallPerCpuSecond: number;
  /** (b)'s CPU ÷ (a)'s. */
  readonly ratio: number;
  readonly mismatches: number;
}

/** True when two results of a day say the same: formula, value or reason, input revision. */
const sameResult = (a: DayResult, b: DayResult) =>
  a.formula.formula.id === b.formula.formula.id &&
  Object.is(a.value, b.value) &&
  a.reason === b.reason &&
  a.inputRevision === b.inputRevision;

function evaluationRuns(): EvaluationFigures {
  const run = (
    formulas: typeof inForce,
    from: number,
    days: readonly DayAggregates[],
    out: DayResult[][],
  ) => {
    const cpu = process.cpuUsage();
    for (let i = 0; i < days.length; i++)
      out[i] = evaluateDay(formulas[productOfDay(from + i, PRODUCTS)]!, days[i]!);
    return cpuMsSince(cpu);
  };
  // both warmed up (optimized by the JIT) on the first days, untimed
  const warm = Array.from({ length: Math.min(DAYS, 2000) }, (_, d) => dayAggregates(d));
  for (let i = 0; i < 3; i++) {
    run(inForce, 0, warm, []);
    run(eachCall, 0, warm, []);
  }
  let compiledCpuMs = 0;
  let eachCallCpuMs = 0;
  let results = 0;
  let withoutValue = 0;
  let mismatches = 0;
  let chunks = 0;
  for (let from = 0; from < DAYS; from += CHUNK) {
    const days = Array.from({ length: Math.min(CHUNK, DAYS - from) }, (_, i) => dayAggregates(from + i));
    const compiled: DayResult[][] = new Array(days.length);
    const baseline: DayResult[][] = new Array(days.length);
    if (chunks++ % 2 === 0) {
      compiledCpuMs += run(inForce, from, days, compiled);
      eachCallCpuMs += run(eachCall, from, days, baseline);
    } else {
      eachCallCpuMs += run(eachCall, from, days, baseline);
      compiledCpuMs += run(inForce, from, days, compiled);
    }
    for (let i = 0; i < days.length; i++) {
      const a = compiled[i]!;
      const b = baseline[i]!;
      results += a.length;
      if (a.length !== b.length) mismatches += Math.max(a.length, b.length);
      else for (let j = 0; j < a.length; j++) if (!sameResult(a[j]!, b[j]!)) mismatches++;
      for (const r of a) if (r.value === undefined) withoutValue++;
    }
  }
  return {
    days: DAYS,
    results,
    withoutValue,
    compiledCpuMs,
    eachCallCpuMs,
    compiledPerCpuSecond: results / (compiledCpuMs / 1000),
    eachCallPerCpuSecond: results / (eachCallCpuMs / 1000),
    ratio: eachCallCpuMs / compiledCpuMs,
    mismatches,
  };
}

// ---------------------------------------------------------------------------------------------
// Main

async function main(): Promise<void> {
  const machine = machineInfo();
  const startLoad = loadavg();
  let evaluation: EvaluationFigures | undefined;
  let writes: WriteFigures | undefined;
  let worst: WorstCaseFigures[] | undefined;
  if (runs('evaluations')) {
    process.stderr.write(
      `(a), (b) ${count(DAYS)} days × ${FORMULAS} formulas, compiled and evaluated each call…\n`,
    );
    evaluation = evaluationRuns();
    process.stderr.write(
      `(a): ${count(evaluation.compiledPerCpuSecond)}, (b): ${count(evaluation.eachCallPerCpuSecond)} results per CPU-second; mismatches ${evaluation.mismatches}\n`,
    );
  }
  if (runs('writes')) {
    process.stderr.write(`(c) ${count(DAYS * FORMULAS)} results into PostgreSQL, then again…\n`);
    writes = await writeRuns({ url: values['postgres-url'], days: DAYS, products: PRODUCTS, inForce });
    process.stderr.write(
      `(c): ${(writes.first.wallMs / 1000).toFixed(1)} s (${count(writes.first.rowsPerSecond)} rows/s), replay ${(writes.replay.wallMs / 1000).toFixed(1)} s, ${count(writes.replayChanged)} rows changed by it\n`,
    );
  }
  if (runs('worst')) {
    process.stderr.write('(d) worst-case expressions…\n');
    worst = worstCaseRuns(EVALUATIONS, gc, (f) =>
      process.stderr.write(
        `  ${f.shape}: ${f.meanCpuUs.toFixed(1)} µs mean CPU, max ${f.maxUs.toFixed(0)} µs, ${count(f.heapBytesPerEvaluation)} B heap per evaluation\n`,
      ),
    );
  }
  const result = {
    benchmark: 'formulas',
    at: new Date().toISOString(),
    machine,
    loadAverage: { start: startLoad, end: loadavg() },
    parameters: { customers: CUSTOMERS, products: PRODUCTS, formulas: FORMULAS, evaluations: EVALUATIONS },
    evaluation,
    writes,
    worst,
  };
  console.log(JSON.stringify(result, null, 2));
  if (values.out) writeFileSync(values.out, `${JSON.stringify(result, null, 2)}\n`);
  if (values.results) writeResults(evaluation, writes, worst);
  const failures = [
    evaluation && evaluation.mismatches > 0
      ? `${evaluation.mismatches} results of the compiled formulas differ from math.evaluate's`
      : '',
    writes && writes.stored !== writes.rows ? `${writes.stored} rows stored of ${writes.rows} written` : '',
    writes && writes.replayChanged > 0 ? `the replay changed ${writes.replayChanged} rows` : '',
  ].filter((f) => f !== '');
  for (const f of failures) process.stderr.write(`${f}\n`);
  if (failures.length > 0) process.exitCode = 1;
}

const n = (x: number | undefined, digits = 0) =>
  x !== undefined && Number.isFinite(x)
    ? x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : '–';
const met = (ok: boolean | undefined) => (ok === undefined ? 'not run' : ok ? 'met' : 'not met');

/** An expression shortened for a table cell. */
const shortened = (e: string) => `\`${e.length > 48 ? `${e.slice(0, 45)}…` : e}\``;

function writeResults(
  evaluation: EvaluationFigures | undefined,
  writes: WriteFigures | undefined,
  worst: readonly WorstCaseFigures[] | undefined,
): void {
  const e = evaluation;
  const w = writes;
  const slowest = worst?.[0];
  const heaviest = worst && [...worst].sort((a, b) => b.heapBytesPerEvaluation - a.heapBytesPerEvaluation)[0];
  const overTime = worst?.filter((f) => f.meanCpuUs > WORST_US_CLAIM) ?? [];
  const overHeap = worst?.filter((f) => f.heapBytesPerEvaluation > WORST_BYTES_CLAIM) ?? [];
  const writeRow = (label: string, f: WriteFigures['first'] | undefined, extra: string) =>
    f === undefined
      ? `| ${label} | skipped | | | | | |`
      : `| ${label} | ${count(f.rows)} | ${n(f.wallMs / 1000, 1)} | ${n(f.rowsPerSecond)} | ${n(f.cpuMs)} | ${n(f.postgresCpuMs)} | ${extra} |`;
  writeLatestFigures({
    name: 'formulas',
    heading: '## Formulas (`npm run bench:formulas`)',
    command: `npm run bench:formulas -- --customers ${CUSTOMERS} --products ${PRODUCTS} --formulas ${FORMULAS} --evaluations ${EVALUATIONS}${SKIP.size > 0 ? ` --skip ${[...SKIP].join(',')}` : ''} --results`,
    lines: [
      `One day of ${count(CUSTOMERS)} customers × ${count(PRODUCTS)} products (${count(DAYS)} customer × product days, each with the aggregates of five metrics: count, sum, min, max, mean, m2, first and last, generated; one day in 200 without the power metric) and ${FORMULAS} formulas per product (a ratio with \`max\`, \`min\` of a ratio, a conditional, \`sqrt\`/\`abs\`, one reading another's result; read through the formula loader and checks, compiled by \`compileFormula\`): ${count(DAYS * FORMULAS)} results. CPU = this process (\`process.cpuUsage\`), PostgreSQL's = its backend's.`,
      '',
      '| run | results | results / CPU-s | CPU ms | |',
      '|---|---:|---:|---:|---|',
      e === undefined
        ? '| (a) compiled, through `evaluateDay` | skipped | | | |'
        : `| (a) \`evaluateDay\` with the formulas compiled once (the sink's path per day) | ${count(e.results)} | ${n(e.compiledPerCpuSecond)} | ${n(e.compiledCpuMs)} | ${count(e.withoutValue)} results without a value (their reason stored) |`,
      e === undefined
        ? '| (b) `math.evaluate` each call | skipped | | | |'
        : `| (b) baseline: the same \`evaluateDay\`, each formula by \`math.evaluate\` on every call (plain mathjs, \`number\`, \`predictable\`) | ${count(e.results)} | ${n(e.eachCallPerCpuSecond)} | ${n(e.eachCallCpuMs)} | mismatches with (a): ${count(e.mismatches)} |`,
      '',
      '| write (`writeFormulaResults`, one connection, chunks of 5,000 rows) | rows | s | rows / s | CPU ms | PostgreSQL CPU ms | |',
      '|---|---:|---:|---:|---:|---:|---|',
      writeRow(
        "(c) the day's results, into an empty `formula_results`",
        w?.first,
        w
          ? `${count(w.stored)} rows stored, ${count(w.storedWithValue)} with a value; table and indexes ${n(w.tableBytes / 1_048_576, 1)} MiB`
          : '',
      ),
      writeRow(
        '(c′) the same rows again (a replay)',
        w?.replay,
        w ? `rows changed: ${count(w.replayChanged)} (\`computed_at\` at or after the replay's start)` : '',
      ),
      '',
      `Made as the sink makes them (\`resultRows\`: \`evaluateDay\` and the row of each result): ${n(w?.rowsCpuMs)} CPU ms.`,
      '',
      `(d) The costliest expressions the allowlist accepts: each shape grown to the longest accepted expression of at most 1,024 characters, compiled by \`compileFormula\`, evaluated by \`evaluateCompiled\` with the costliest of a few inputs (ordinary, the largest and smallest doubles, a large negative); up to ${count(EVALUATIONS)} timed evaluations each (fewer past 5 s). Times are wall time per call (the tail holds other processes' turns on this shared machine); mean is CPU; heap = the heap's growth over a run of evaluations plus what collections during it freed (\`v8.GCProfiler\`).`,
      '',
      '| shape | chars | input | evaluations | mean CPU µs | p50 µs | p99 µs | max µs | > 1 ms | first µs | heap B / evaluation | outcome |',
      '|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|',
      ...(worst ?? []).map(
        (f) =>
          `| ${f.shape}: ${shortened(f.expression)} | ${f.characters} | ${f.input} | ${count(f.evaluations)} | ${n(f.meanCpuUs, 1)} | ${n(f.p50Us, 1)} | ${n(f.p99Us, 1)} | ${n(f.maxUs)} | ${count(f.overOneMs)} | ${n(f.firstUs)} | ${count(f.heapBytesPerEvaluation)} | ${f.outcome.length > 40 ? `${f.outcome.slice(0, 37)}…` : f.outcome} |`,
      ),
      '',
      `Goals: ≥ ${count(RATE_GOAL)} results per CPU-second compiled (a): ${n(e?.compiledPerCpuSecond)}, ${n(e ? e.compiledPerCpuSecond / RATE_GOAL : undefined, 2)} of it (${met(e && e.compiledPerCpuSecond >= RATE_GOAL)}); compiled against \`math.evaluate\` each call: ${e ? ratioToGoal(e.ratio, undefined, 1) : 'not run'}× by CPU; every result the same: ${e ? (e.mismatches === 0 ? 'yes' : `no, ${count(e.mismatches)} differ`) : 'not run'}. The day's ${count(DAYS * FORMULAS)} results written in ≤ ${WRITE_GOAL_S} s on one connection: ${n(w ? w.first.wallMs / 1000 : undefined, 1)} s (${met(w && w.first.wallMs <= WRITE_GOAL_S * 1000)}); the replay changed nothing: ${w ? (w.replayChanged === 0 ? 'yes' : `no, ${count(w.replayChanged)} rows`) : 'not run'}. The claim that nothing accepted allocates more than about a megabyte (1 MiB) or runs longer than a millisecond per evaluation: ${worst === undefined ? 'not run' : overTime.length === 0 && overHeap.length === 0 ? 'holds for every shape tried' : `does not hold: ${overTime.length} of ${worst.length} shapes take more than 1 ms of CPU per evaluation on average (the slowest, ${slowest!.shape}, ${n(slowest!.meanCpuUs / 1000, 1)} ms), ${overHeap.length} allocate more than 1 MiB (the most, ${heaviest!.shape}, ${n(heaviest!.heapBytesPerEvaluation / 1_048_576, 1)} MiB)`}.`,
    ],
  });
}

await main();
