/**
 * `shardflow alarms`: the alarm episodes in the Warm store, and people's actions on them.
 *   alarms list      open (or all) episodes, most severe first, by customer and severity
 *   alarms show      one episode and its history
 *   alarms ack|assign|comment|clear|shelve|unshelve
 *                    a person's action: put on the telemetry stream as an alarm action record, with
 *                    the partition key of the target's readings, so the rule operator that keeps the
 *                    episode applies it (its events reach Warm and Hot through the alarm event sink);
 *                    the command then waits, bounded, for the events in alarm_events and prints them.
 *                    `--direct` records it in Warm and Hot instead (`recordAction`), for an episode no
 *                    running rule operator keeps (its rule or ruleset removed, no rules stage)
 */
import { randomUUID } from 'node:crypto';
import { userInfo } from 'node:os';
import { type Command, InvalidArgumentError } from 'commander';
import { applyAction, type PersonAction } from '../../operators/rules/episodes/index.ts';
import { recordAction } from '../../sinks/alarms/recordAction.ts';
import { listEpisodes, readAlarmEvents, readEpisode } from '../../sinks/alarms/warmAlarms.ts';
import type { HotStore } from '../../sinks/hot/hotStore.ts';
import { openHotStore } from '../../sinks/hot/openHotStore.ts';
import { postgresHotStore } from '../../sinks/hot/postgresHotStore.ts';
import { migrateWarm } from '../../sinks/postgres/migrate.ts';
import { describeEndpoint, openWarmStore, type WarmStore } from '../../sinks/postgres/store.ts';
import {
  type AlarmEvent,
  type Episode,
  encodeAlarmAction,
  isSeverity,
  SEVERITIES,
  type Severity,
  systemClock,
} from '../../topology/index.ts';
import { loadWorkerConfig, type WorkerConfig } from '../config.ts';
import { ServiceUnavailableError } from '../exitCodes.ts';
import { actionPartitionKey } from './actionKey.ts';
import { putOnStream } from './putOnStream.ts';
import { exitWithError, formatTable, UsageError } from './shared.ts';

interface Stores {
  readonly warm: WarmStore;
  readonly hot: HotStore;
}

function severity(value: string): Severity {
  if (!isSeverity(value)) throw new InvalidArgumentError(`expected one of ${SEVERITIES.join(', ')}`);
  return value;
}

function isoTime(value: string): number {
  const ms = Date.parse(value);
  if (Number.isNaN(ms))
    throw new InvalidArgumentError('expected an ISO 8601 time, e.g. 2026-05-01T10:00:00Z');
  return ms;
}

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

function duration(value: string): number {
  const m = /^(\d+)([smhd])$/.exec(value);
  if (m === null) throw new InvalidArgumentError('expected a duration such as 90m, 2h or 1d');
  return Number(m[1]) * UNITS[m[2]!]!;
}

function limit(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 100_000)
    throw new InvalidArgumentError('expected an integer from 1 to 100000');
  return n;
}

async function openStores(config: WorkerConfig): Promise<Stores> {
  const warm = openWarmStore(config.warm);
  try {
    await migrateWarm(warm.write);
  } catch (error) {
    await warm.close().catch(() => {});
    throw new ServiceUnavailableError(
      'PostgreSQL',
      'warm.writeUrl',
      describeEndpoint(config.warm.writeUrl),
      error,
    );
  }
  if (config.hot === undefined)
    return { warm, hot: postgresHotStore(warm, { retentionDays: 10, ownsEndpoints: false }) };
  const hot = await openHotStore(config.hot);
  try {
    await hot.prepare();
  } catch (error) {
    await Promise.all([warm.close(), hot.close()].map((p) => p.catch(() => {})));
    throw new ServiceUnavailableError(
      'Hot store',
      'hot.writeUrl',
      describeEndpoint(config.hot.writeUrl),
      error,
    );
  }
  return { warm, hot };
}

async function withStores(
  file: string,
  work: (stores: Stores, config: WorkerConfig) => Promise<void>,
): Promise<void> {
  try {
    const config = loadWorkerConfig(file);
    const stores = await openStores(config);
    try {
      await work(stores, config);
    } finally {
      await stores.hot.close();
      await stores.warm.close();
    }
  } catch (error) {
    exitWithError(error);
  }
}

const iso = (ms: number | null) => (ms === null ? '-' : new Date(ms).toISOString());

function statusOf(e: Episode): string {
  if (e.closedAt !== null) return 'closed';
  return [
    e.status,
    e.acknowledged ? 'acked' : 'unacked',
    e.latched ? 'latched' : '',
    e.flapping ? 'flapping' : '',
  ]
    .filter((s) => s !== '')
    .join(',');
}

function printEpisodes(episodes: readonly Episode[]): void {
  if (episodes.length === 0) {
    console.log('no alarms');
    return;
  }
  const rows = [
    ['EPISODE', 'SEVERITY', 'STATUS', 'RULE', 'TARGET', 'CUSTOMER', 'OPENED', 'SHELVED UNTIL', 'ASSIGNEE'],
  ];
  for (const e of episodes)
    rows.push([
      e.id,
      e.severity,
      statusOf(e),
      e.ruleId,
      `${e.target.kind}:${e.target.id}`,
      e.customerId ?? '-',
      iso(e.openedAt),
      iso(e.shelvedUntil),
      e.assignee ?? '-',
    ]);
  console.log(formatTable(rows));
}

/** How an action command is run (the options every action takes). */
interface ActOptions {
  readonly config: string;
  /** Record it in Warm and Hot directly instead of putting it on the stream. */
  readonly direct?: boolean;
  /** False with `--no-wait`: put it on the stream and return. */
  readonly wait?: boolean;
  readonly timeout?: number;
  readonly partitionKey?: string;
}

const printed = (id: string, events: readonly AlarmEvent[], episode: Episode) =>
  `${id}: ${events.map((e) => `${e.seq} ${e.kind}`).join(', ')}; now ${episode.severity}, ${statusOf(episode)}`;

/** A person's action on an episode; a refused action exits 2, one that made no event in time exits 1. */
async function act(opts: ActOptions, id: string, action: (at: number) => PersonAction): Promise<void> {
  await withStores(opts.config, async ({ warm, hot }, config) => {
    const at = Date.now();
    const a = action(at);
    if (opts.direct) {
      const result = await recordAction(warm.write, hot, id, (episode) => applyAction(episode, a));
      if (result.refused !== undefined) throw new UsageError(result.refused);
      console.log(printed(id, result.events, result.episode));
      return;
    }
    const episode = await readEpisode(warm.read, id);
    if (episode === undefined) throw new UsageError(`no alarm ${id}`);
    // refused on the stored episode already (closed, acknowledged twice): nothing is put
    const check = applyAction(episode, a);
    if (check.refused !== undefined) throw new UsageError(check.refused);
    if (config.rules === undefined)
      throw new UsageError(
        `the configuration runs no rules stage: its workers would dead-letter the action (alarm-action-unowned); use --direct`,
      );
    if (episode.target.kind !== 'device' && episode.target.kind !== 'hub')
      throw new UsageError(
        `alarm ${id} is about a ${episode.target.kind}: no rule operator keeps such episodes; use --direct`,
      );
    const partitionKey =
      opts.partitionKey ?? (await actionPartitionKey(episode, (q) => hot.readTelemetry(q)));
    const actionId = randomUUID();
    const data = encodeAlarmAction({
      actionId,
      episodeId: id,
      ruleId: episode.ruleId,
      target: episode.target,
      deviceId: episode.deviceId ?? episode.target.id,
      action: a,
    });
    await putOnStream(config, [{ partitionKey, data }]);
    if (opts.wait === false) {
      console.log(`${id}: ${a.kind} put on stream ${config.source.kinesis.streamName} (action ${actionId})`);
      return;
    }
    const timeout = opts.timeout ?? DEFAULT_WAIT_MS;
    const deadline = systemClock.now() + timeout;
    for (;;) {
      const events = (await readAlarmEvents(warm.read, id)).filter(
        (e) => e.seq > episode.lastEventSeq && e.by === a.by && e.at === a.at,
      );
      if (events.length > 0) {
        console.log(printed(id, events, events.at(-1)!.episode));
        return;
      }
      if (systemClock.now() >= deadline) break;
      await systemClock.sleep(WAIT_POLL_MS);
    }
    throw new Error(
      `${id}: ${a.kind} put on stream ${config.source.kinesis.streamName} (action ${actionId}, partition key ${partitionKey}), but no event in alarm_events within ${timeout / 1000} s: the worker has not read it yet, runs no rules stage (dead letter alarm-action-unowned), or refused it (its log: "alarm action refused")`,
    );
  });
}

/** How long an action command waits for its events by default, and how often it looks. */
const DEFAULT_WAIT_MS = 30_000;
const WAIT_POLL_MS = 250;

const by = (opts: { by?: string }) => opts.by ?? userInfo().username;

/** Registers `shardflow alarms`. */
export function registerAlarmsCommand(program: Command): void {
  const alarms = program
    .command('alarms')
    .description(
      'List and show alarm episodes; acknowledge, assign, comment, clear, shelve. An action is put on the telemetry stream for the rule operator that keeps the episode, and the command waits for its events (--direct: written to Warm and Hot, for episodes no operator keeps).',
    );
  const config = (c: Command) =>
    c.requiredOption(
      '-c, --config <file>',
      'worker configuration (YAML): warm, and hot when the Hot store is separate',
    );

  config(alarms.command('list'))
    .description('alarm episodes, most severe first, then newest (from the Warm store)')
    .option('--customer <id>', 'only this customer’s alarms')
    .option('--status <which>', 'open (the default) or all, closed ones included', (v) => {
      if (v !== 'open' && v !== 'all') throw new InvalidArgumentError('expected open or all');
      return v;
    })
    .option('--severity <s>', `only alarms at least this severe (${SEVERITIES.join(', ')})`, severity)
    .option('--limit <n>', 'at most this many (default 1000)', limit)
    .option('--json', 'one JSON object per line, every field')
    .action(
      (opts: {
        config: string;
        customer?: string;
        status?: 'open' | 'all';
        severity?: Severity;
        limit?: number;
        json?: boolean;
      }) =>
        withStores(opts.config, async ({ warm }) => {
          const episodes = await listEpisodes(warm.read, {
            ...(opts.customer === undefined ? {} : { customerId: opts.customer }),
            status: opts.status ?? 'open',
            ...(opts.severity === undefined ? {} : { minSeverity: opts.severity }),
            ...(opts.limit === undefined ? {} : { limit: opts.limit }),
          });
          if (opts.json) for (const e of episodes) console.log(JSON.stringify(e));
          else printEpisodes(episodes);
        }),
    );

  config(alarms.command('show'))
    .description('one alarm episode and its history')
    .argument('<id>', 'episode id')
    .option('--json', 'the episode and its events as JSON')
    .action((id: string, opts: { config: string; json?: boolean }) =>
      withStores(opts.config, async ({ warm }) => {
        const episode = await readEpisode(warm.read, id);
        if (episode === undefined) throw new UsageError(`no alarm ${id}`);
        const events = await readAlarmEvents(warm.read, id);
        if (opts.json) {
          console.log(JSON.stringify({ episode, events }, null, 2));
          return;
        }
        printEpisodes([episode]);
        console.log(`\nvalue ${episode.value ?? '-'}  message ${episode.message || '-'}\n`);
        const rows = [['SEQ', 'KIND', 'AT', 'BY', 'NOTE', 'NOTIFY']];
        for (const e of events)
          rows.push([
            String(e.seq),
            e.kind,
            iso(e.at),
            e.by ?? '-',
            e.note ?? '-',
            e.notify ? 'yes' : e.suppressed ? 'suppressed' : 'no',
          ]);
        console.log(formatTable(rows));
      }),
    );

  const byOption = (c: Command, required: boolean) =>
    (required
      ? c.requiredOption('--by <user>', 'who does it (recorded in the history)')
      : c.option('--by <user>', 'who does it (recorded in the history; the login name when absent)')
    )
      .option(
        '--direct',
        'record it in Warm and Hot directly, not through the stream: only for an episode no running rule operator keeps (its rule or ruleset removed, no rules stage), as the operator would not learn of it',
      )
      .option('--no-wait', 'put the action on the stream and return, without waiting for its events')
      .option(
        '--timeout <duration>',
        'how long to wait for its events in alarm_events (default 30s)',
        duration,
      )
      .option(
        '--partition-key <key>',
        "the partition key of the target's readings (default: as the gateways key the reading that raised the alarm, from its topic in the Hot store, e.g. a hub's id for its children; else the target's id)",
      );

  byOption(config(alarms.command('ack')), true)
    .description('acknowledge an alarm (closes it when it is cleared, e.g. latched)')
    .argument('<id>', 'episode id')
    .action((id: string, opts: ActOptions & { by: string }) =>
      act(opts, id, (at) => ({ kind: 'acknowledge', at, by: opts.by })),
    );

  byOption(config(alarms.command('assign')), false)
    .description('assign an alarm to someone')
    .argument('<id>', 'episode id')
    .requiredOption('--to <user>', 'the assignee')
    .action((id: string, opts: ActOptions & { to: string; by?: string }) =>
      act(opts, id, (at) => ({ kind: 'assign', at, by: by(opts), to: opts.to })),
    );

  byOption(config(alarms.command('comment')), true)
    .description('add a comment to an alarm’s history')
    .argument('<id>', 'episode id')
    .requiredOption('--text <text>', 'the comment')
    .action((id: string, opts: ActOptions & { text: string; by: string }) =>
      act(opts, id, (at) => ({ kind: 'comment', at, by: opts.by, text: opts.text })),
    );

  byOption(config(alarms.command('clear')), true)
    .description('clear an alarm by hand (a latched one stays open until acknowledged)')
    .argument('<id>', 'episode id')
    .action((id: string, opts: ActOptions & { by: string }) =>
      act(opts, id, (at) => ({ kind: 'clear', at, by: opts.by })),
    );

  byOption(config(alarms.command('shelve')), true)
    .description('shelve an alarm: recorded, not notified, until a time')
    .argument('<id>', 'episode id')
    .option('--until <iso>', 'until this time', isoTime)
    .option('--for <duration>', 'for this long from now (e.g. 90m, 2h, 1d)', duration)
    .action((id: string, opts: ActOptions & { until?: number; for?: number; by: string }) => {
      if ((opts.until === undefined) === (opts.for === undefined)) {
        exitWithError(new UsageError('shelve: give exactly one of --until and --for'));
      }
      return act(opts, id, (at) => ({
        kind: 'shelve',
        at,
        by: opts.by,
        until: opts.until ?? at + opts.for!,
      }));
    });

  byOption(config(alarms.command('unshelve')), true)
    .description('end an alarm’s shelving now')
    .argument('<id>', 'episode id')
    .action((id: string, opts: ActOptions & { by: string }) =>
      act(opts, id, (at) => ({ kind: 'unshelve', at, by: opts.by })),
    );
}
