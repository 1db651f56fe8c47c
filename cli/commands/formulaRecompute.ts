/**
 * `shardflow formulas recompute`: one stored version evaluated again over past days from the stored
 * aggregates (`recomputeFormula`), wherever it would be in force, its rows upserted beside those of
 * the other versions. Progress goes to stderr (a bar on a terminal, a line per day otherwise); the
 * per-day comparison with the results stored before, and a total, to stdout.
 *
 * Days are UTC, `--to` included; without them, the 30 days ending yesterday. The Hot store (device
 * 1-day windows) is opened only when a device-scoped version asks for them.
 */
import { type Command, InvalidArgumentError } from 'commander';
import {
  type DayDifference,
  RecomputeError,
  type RecomputeOutcome,
  recomputeFormula,
} from '../../sinks/formulas/index.ts';
import type { AggregateQuery, HotStore } from '../../sinks/hot/hotStore.ts';
import { openHotStore } from '../../sinks/hot/openHotStore.ts';
import { postgresHotStore } from '../../sinks/hot/postgresHotStore.ts';
import { describeEndpoint, type WarmStore } from '../../sinks/postgres/store.ts';
import { systemClock } from '../../topology/index.ts';
import type { WorkerConfig } from '../config.ts';
import { ServiceUnavailableError } from '../exitCodes.ts';
import { exitWithError, formatTable, positiveInteger, UsageError, withWarmStore } from './shared.ts';

const DAY_MS = 86_400_000;

/** Days recomputed when neither `--from` nor `--to` is given: this many, ending yesterday. */
const DEFAULT_DAYS = 30;

/** A `YYYY-MM-DD` day as the epoch ms of its UTC start. */
export function parseDay(value: string): number {
  const ms = /^\d{4}-\d{2}-\d{2}$/.test(value) ? Date.parse(`${value}T00:00:00Z`) : Number.NaN;
  if (Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== value)
    throw new InvalidArgumentError('expected a day, YYYY-MM-DD (UTC)');
  return ms;
}

const dayText = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/**
 * The days to recompute, `[from, to)` in epoch ms: `--from` to `--to` inclusive; `--from` alone up
 * to yesterday; `--to` alone the 30 days ending then; neither, the 30 days ending yesterday (`now`'s
 * day is not over).
 */
export function recomputeRange(
  opts: { from?: number; to?: number },
  now: number,
): { from: number; to: number } {
  const today = Math.floor(now / DAY_MS) * DAY_MS;
  const to = opts.to === undefined ? today : opts.to + DAY_MS;
  const from = opts.from ?? to - DEFAULT_DAYS * DAY_MS;
  if (from >= to)
    throw new UsageError(
      opts.to === undefined
        ? `--from ${dayText(from)}: the range ends yesterday (${dayText(today - DAY_MS)}); give --to`
        : `--from ${dayText(from)} is after --to ${dayText(to - DAY_MS)}`,
    );
  return { from, to };
}

const number = (n: number) => String(Number(n.toPrecision(6)));

/** The per-day table and its total line. */
export function differenceTable(days: readonly DayDifference[]): string {
  const rows = [['DAY', 'RESULTS', 'WITHOUT VALUE', 'NEW', 'CHANGED', 'MAX |Δ|']];
  const row = (label: string, d: Omit<DayDifference, 'dayStart'>) =>
    rows.push([
      label,
      String(d.results),
      String(d.withoutValue),
      String(d.added),
      String(d.changed),
      d.changed === 0 ? '-' : number(d.maxAbsDelta),
    ]);
  for (const d of days) row(dayText(d.dayStart), d);
  const sum = (key: 'results' | 'withoutValue' | 'added' | 'changed') =>
    days.reduce((total, d) => total + d[key], 0);
  row('total', {
    results: sum('results'),
    withoutValue: sum('withoutValue'),
    added: sum('added'),
    changed: sum('changed'),
    maxAbsDelta: Math.max(0, ...days.map((d) => d.maxAbsDelta)),
  });
  return formatTable(rows);
}

/** Progress on stderr: a bar redrawn in place on a terminal, one line per day otherwise. */
function dayProgress(): (done: number, of: number, day: DayDifference) => void {
  const tty = process.stderr.isTTY === true;
  return (done, of, day) => {
    if (!tty) {
      process.stderr.write(`recompute: ${dayText(day.dayStart)} (${done}/${of}): ${day.results} results\n`);
      return;
    }
    const filled = Math.round((done / of) * 30);
    process.stderr.write(
      `\r[${'#'.repeat(filled)}${'.'.repeat(30 - filled)}] ${done}/${of} days  ${dayText(day.dayStart)}${done === of ? '\n' : ''}`,
    );
  };
}

/**
 * The Hot store's device 1-day windows, opened on first use as the worker opens the store: the one
 * `hot` configures (prepared), else the Hot tables in the Warm store.
 */
function lazyHotReads(warm: WarmStore, config: WorkerConfig) {
  let opened: Promise<HotStore> | undefined;
  const open = async (): Promise<HotStore> => {
    const hot = config.hot;
    if (hot === undefined) return postgresHotStore(warm, { retentionDays: 10, ownsEndpoints: false });
    const unreachable = (error: unknown) =>
      new ServiceUnavailableError(
        hot.kind === 'mongodb' ? 'MongoDB' : 'PostgreSQL',
        'hot.writeUrl',
        hot.kind === 'mongodb' ? new URL(hot.writeUrl).host : describeEndpoint(hot.writeUrl),
        error,
      );
    const store = await openHotStore(hot).catch((error: unknown) => {
      throw unreachable(error);
    });
    try {
      await store.prepare();
    } catch (error) {
      await store.close().catch(() => {});
      throw unreachable(error);
    }
    return store;
  };
  return {
    async readAggregates(query: AggregateQuery) {
      opened ??= open();
      return (await opened).readAggregates(query);
    },
    async close() {
      const store = await opened?.catch(() => undefined);
      await store?.close();
    },
  };
}

interface RecomputeOptions {
  readonly formula: string;
  readonly version?: number;
  readonly from?: number;
  readonly to?: number;
  readonly dryRun?: boolean;
  readonly config: string;
}

/** Prints what a recompute did, after its table. */
function summary(outcome: RecomputeOutcome, dryRun: boolean): string {
  const results = outcome.days.reduce((n, d) => n + d.results, 0);
  if (dryRun) return `dry run: nothing written (${results} results over ${outcome.days.length} days)`;
  return `${outcome.written} results upserted (a stored row whose inputs have not changed is left as it was)`;
}

/** Adds `formulas recompute` to the `formulas` command. */
export function registerFormulaRecompute(formulas: Command): void {
  formulas
    .command('recompute')
    .summary('evaluate a stored version again over past days; per-day differences')
    .description(
      'evaluate a stored version again over past days from the stored aggregates, as if it were in force, and upsert its results beside those of the other versions; prints per day how they compare with the results stored before',
    )
    .requiredOption('--formula <id>', 'the formula id')
    .option('--version <n>', 'the version (default: the highest stored)', positiveInteger)
    .option(
      '--from <day>',
      `first day, YYYY-MM-DD in UTC (default: the ${DEFAULT_DAYS} days ending with --to)`,
      parseDay,
    )
    .option('--to <day>', 'last day, YYYY-MM-DD in UTC, included (default: yesterday)', parseDay)
    .option('--dry-run', 'compute and compare, write nothing')
    .requiredOption(
      '-c, --config <file>',
      'worker configuration (YAML): warm, and hot for device-scoped versions',
    )
    .action(async (opts: RecomputeOptions) => {
      try {
        const range = recomputeRange(opts, systemClock.now());
        const dryRun = opts.dryRun === true;
        const outcome = await withWarmStore(opts.config, async (store, config) => {
          const hot = lazyHotReads(store, config);
          try {
            return await recomputeFormula(
              { warm: store.write, hot },
              { formulaId: opts.formula, version: opts.version, ...range, dryRun, onDay: dayProgress() },
            );
          } finally {
            await hot.close();
          }
        });
        const f = outcome.formula;
        console.log(
          `formula ${f.id} v${f.version} (${f.productId}, ${f.scope} scope), ${dayText(range.from)} to ${dayText(range.to - DAY_MS)} (UTC); NEW and CHANGED against the results stored for its other versions`,
        );
        console.log(differenceTable(outcome.days));
        console.log(summary(outcome, dryRun));
      } catch (error) {
        exitWithError(error instanceof RecomputeError ? new UsageError(error.message) : error);
      }
    });
}
