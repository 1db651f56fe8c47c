/**
 * The outbox's delivery (`actions/outbox/`) against the SNS stand-in (`infra/standins/sns.ts`, in a
 * process of its own), on a throwaway PostgreSQL (or `--postgres-url`):
 *
 * - (a) throughput: `--actions` notification rows planned from raise events (one SNS recipient each,
 *   a customer each, so no flood control), delivered by one `OutboxDeliverer` (claims of 500 rows,
 *   `FOR UPDATE SKIP LOCKED`, `PublishBatch` of 10 entries, 16 requests in flight): actions per
 *   second, wall clock, from the first claim to the last row sent (goal ≥ 2,000).
 * - (b) baseline, same run: the SNS channel alone sending the same notifications in batches of 500
 *   (no database): the ceiling the outbox works under.
 * - (c) latency: `--alarms` raise events written one by one through the alarm event sink with the
 *   outbox writer, `--rate` a second, a deliverer woken by the outbox's `NOTIFY`: alarm written →
 *   first notification accepted by SNS, p50/p99/max (goal p99 ≤ 2 s).
 *
 * Usage: npm run bench:outbox -- [--actions N] [--alarms N] [--rate R] [--postgres-url URL] [--results]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { SNSClient } from '@aws-sdk/client-sns';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { NotificationPayload } from '../actions/channels/channel.ts';
import { snsChannel } from '../actions/channels/sns.ts';
import { OutboxDeliverer } from '../actions/outbox/deliverer.ts';
import { insertActions } from '../actions/outbox/outboxTable.ts';
import { outboxFeed, outboxWriter } from '../actions/outbox/outboxWriter.ts';
import { planActions } from '../actions/outbox/plan.ts';
import { policiesOfSets } from '../actions/policies/catalog.ts';
import { startPostgres } from '../infra/local/postgres.ts';
import { alarmEventSink } from '../sinks/alarms/alarmEventSink.ts';
import { postgresHotStore } from '../sinks/hot/postgresHotStore.ts';
import { migrateWarm } from '../sinks/postgres/migrate.ts';
import { openWarmStore, warmStoreConfigSchema } from '../sinks/postgres/store.ts';
import { responsePolicySetSchema } from '../specs/responses/schema.ts';
import {
  type AlarmEvent,
  alarmEventId,
  type BatchContext,
  type Episode,
  episodeId,
  ManualClock,
  silentLogger,
  systemClock,
} from '../topology/index.ts';
import { wholeOption } from './options.ts';
import { count, ratioToGoal, writeLatestFigures } from './results.ts';

const USAGE =
  'usage: npm run bench:outbox -- [--actions N] [--alarms N] [--rate R] [--postgres-url URL] [--results]';
const { values } = parseArgs({
  options: {
    actions: { type: 'string', default: '20000' },
    alarms: { type: 'string', default: '600' },
    rate: { type: 'string', default: '30' },
    'postgres-url': { type: 'string', default: process.env.SHARDFLOW_BENCH_POSTGRES_URL },
    results: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const ACTIONS = wholeOption(values.actions, 'actions', 1, USAGE);
const ALARMS = wholeOption(values.alarms, 'alarms', 1, USAGE);
const RATE = wholeOption(values.rate, 'rate', 1, USAGE);
const RATE_GOAL = 2000;
const P99_GOAL_MS = 2000;
const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:bench-alarms';

const SET = responsePolicySetSchema.parse({
  id: 'bench',
  productId: 'bench-product',
  version: 1,
  policies: [{ alarm: '*', notify: [{ after: '0s', to: [{ sns: TOPIC }] }] }],
});
const policyFor = policiesOfSets([SET]);

/** A raise of rule `overheat` on device `i`, by customer `i`. */
function raise(i: number, at: number, tag: string): AlarmEvent {
  const target = { kind: 'device' as const, id: `${tag}-dev-${i}` };
  const id = episodeId('overheat', target, at);
  const episode: Episode = {
    id,
    ruleId: 'overheat',
    rulesetVersion: 1,
    target,
    productId: SET.productId,
    customerId: `${tag}-cust-${i}`,
    siteId: `site-${i % 100}`,
    deviceId: target.id,
    severity: 'major',
    status: 'active',
    acknowledged: false,
    latched: false,
    assignee: null,
    shelvedUntil: null,
    openedAt: at,
    clearedAt: null,
    closedAt: null,
    lastEventSeq: 1,
    updatedAt: at,
    flapping: false,
    value: 31.5,
    message: 'temperature above 30 °C',
  };
  return {
    id: alarmEventId(id, 1),
    episodeId: id,
    seq: 1,
    kind: 'raise',
    at,
    by: null,
    note: null,
    notify: true,
    suppressed: false,
    episode,
  };
}

/** The SNS stand-in in a process of its own: its endpoint, and the count of messages it accepted. */
async function snsProcess(): Promise<{ endpoint: string; messages(): Promise<number>; stop(): void }> {
  const script = `
    import { startSnsStandIn } from ${JSON.stringify(fileURLToPath(new URL('../infra/standins/sns.ts', import.meta.url)))};
    import { createInterface } from 'node:readline';
    const sns = await startSnsStandIn();
    console.log(sns.endpoint);
    createInterface({ input: process.stdin }).on('line', () => console.log(sns.messages.length));
  `;
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', script],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const endpoint = (await lines.next()).value as string;
  return {
    endpoint,
    async messages() {
      child.stdin!.write('count\n');
      return Number((await lines.next()).value);
    },
    stop: () => child.kill(),
  };
}

const snsClient = (endpoint: string) =>
  new SNSClient({
    region: 'eu-west-1',
    endpoint,
    credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
    requestHandler: new NodeHttpHandler(),
    maxAttempts: 1,
  });

const percentile = (sorted: readonly number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;

async function main(): Promise<void> {
  const server = values['postgres-url'] === undefined ? await startPostgres() : undefined;
  const url = values['postgres-url'] ?? server!.url;
  const sns = await snsProcess();
  const store = openWarmStore(warmStoreConfigSchema.parse({ writeUrl: url }));
  const warm = store.write;
  const tag = `b${Date.now().toString(36)}`;
  try {
    await migrateWarm(warm);

    // (a) the outbox: rows planned as the alarm sink plans them, then delivered by one deliverer
    const now = Date.now();
    const events = Array.from({ length: ACTIONS }, (_, i) => raise(i, now, `${tag}a`));
    const { rows } = planActions(events, { policyFor, now, maxEventAgeMs: 3_600_000 });
    await warm.transaction((tx) => insertActions(tx, rows, now));
    const channel = snsChannel(snsClient(sns.endpoint));
    const deliverer = new OutboxDeliverer({ warm, channels: { sns: channel }, log: silentLogger });
    const before = await sns.messages();
    const started = performance.now();
    const cpu = process.cpuUsage();
    let claimed = 0;
    do claimed = await deliverer.deliverOnce();
    while (claimed > 0);
    const outboxMs = performance.now() - started;
    const outboxCpu = process.cpuUsage(cpu);
    const delivered = (await sns.messages()) - before;

    // (b) the channel alone, the same notifications
    const notifications: NotificationPayload[] = rows.map(
      (r) => (r.payload as { notification: NotificationPayload }).notification,
    );
    const started2 = performance.now();
    for (let i = 0; i < notifications.length; i += 500)
      await channel.send(
        notifications.slice(i, i + 500).map((payload, j) => ({ key: `${tag}b/${i + j}`, payload })),
      );
    const channelMs = performance.now() - started2;

    // (c) latency: alarms written one by one, a deliverer woken by NOTIFY
    const hot = postgresHotStore({ write: warm, read: warm }, { retentionDays: 10, ownsEndpoints: false });
    const sink = alarmEventSink(warm, hot, outboxWriter({ policyFor, maxEventAgeMs: 3_600_000 }));
    const live = new OutboxDeliverer({ warm, channels: { sns: channel }, log: silentLogger, pollMs: 250 });
    const feed = outboxFeed(store.writeEndpoint!, { clock: systemClock, log: silentLogger });
    feed.subscribe(() => live.poke());
    await feed.ready();
    live.start();
    const ctx: BatchContext = {
      node: 'alarm-events',
      shardId: 'shardId-000000000000',
      position: { sequenceNumber: '1', subSequenceNumber: 0 },
      clock: new ManualClock(0),
    };
    const written = new Map<string, number>();
    const t0 = performance.now();
    for (let i = 0; i < ALARMS; i++) {
      const wait = t0 + (i * 1000) / RATE - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const event = raise(i, Date.now(), `${tag}c`);
      written.set(event.episodeId, Date.now());
      await sink.write([event], ctx);
    }
    const deadline = Date.now() + 30_000;
    while (live.figures.firstNotifyLatencyMs.length < Math.min(ALARMS, 1000) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    await live.stop();
    await feed.close();
    const latencies = [...live.figures.firstNotifyLatencyMs].sort((a, b) => a - b);

    const rate = delivered / (outboxMs / 1000);
    const channelRate = notifications.length / (channelMs / 1000);
    const p99 = percentile(latencies, 99);
    const figures = {
      actions: ACTIONS,
      delivered,
      outboxMs: Math.round(outboxMs),
      actionsPerSecond: Math.round(rate),
      outboxCpuMs: Math.round((outboxCpu.user + outboxCpu.system) / 1000),
      channelPerSecond: Math.round(channelRate),
      ratio: rate / channelRate,
      latencyMs: { n: latencies.length, p50: percentile(latencies, 50), p99, max: latencies.at(-1) },
    };
    console.log(JSON.stringify(figures, null, 2));
    if (values.results)
      writeLatestFigures({
        name: 'outbox',
        heading: '## Outbox delivery (`npm run bench:outbox`)',
        command: `npm run bench:outbox -- --actions ${ACTIONS} --alarms ${ALARMS} --rate ${RATE} --results`,
        lines: [
          `SNS notifications through the outbox on a throwaway PostgreSQL, to the SNS stand-in in a process of its own (\`infra/standins/sns.ts\`; the AWS SDK's \`SNSClient\`, \`PublishBatch\` of 10, 16 requests in flight). CPU = this process.`,
          '',
          '| run | actions | s | actions / s | CPU ms |',
          '|---|---:|---:|---:|---:|',
          `| (a) the outbox: ${count(ACTIONS)} rows planned from raise events, one deliverer, claims of 500 | ${count(delivered)} accepted by SNS | ${(outboxMs / 1000).toFixed(1)} | ${count(rate)} | ${count(figures.outboxCpuMs)} |`,
          `| (b) baseline: the SNS channel alone, the same notifications, batches of 500, no database | ${count(notifications.length)} | ${(channelMs / 1000).toFixed(1)} | ${count(channelRate)} | |`,
          '',
          `Goal ≥ ${count(RATE_GOAL)} actions/s from one worker: ${count(rate)} (${rate >= RATE_GOAL ? 'met' : 'not met'}); the outbox against the channel alone: ${ratioToGoal(figures.ratio, undefined)}.`,
          '',
          `(c) ${count(ALARMS)} alarms written one by one through the alarm event sink with the outbox writer, ${RATE} a second, a deliverer woken by the outbox's NOTIFY: alarm written → first notification accepted by SNS, ${count(latencies.length)} measured: p50 ${count(figures.latencyMs.p50)} ms, p99 ${count(p99)} ms, max ${count(figures.latencyMs.max ?? Number.NaN)} ms (goal p99 ≤ ${count(P99_GOAL_MS)} ms: ${p99 <= P99_GOAL_MS ? 'met' : 'not met'}).`,
        ],
      });
  } finally {
    sns.stop();
    await store.close();
    await server?.stop();
  }
}

await main();
