/**
 * The outbox on a real PostgreSQL server, delivering through the worker's own channels
 * (`openChannels`) to real receivers: a real SMTP server and HTTP server, and the AWS SDK clients
 * against the loopback stand-ins of SNS, the Device Shadow data plane, IoT Jobs and Step Functions
 * (no local server exists for those; `infra/standins/`). Alarm events go through the alarm sink with
 * the outbox writer, as in a worker.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { actionsConfigSchema } from '../../actions/config.ts';
import { importEngineers } from '../../actions/dispatch/engineers.ts';
import { OutboxDeliverer } from '../../actions/outbox/deliverer.ts';
import { outboxWriter } from '../../actions/outbox/outboxWriter.ts';
import { policiesOfSets } from '../../actions/policies/catalog.ts';
import { openChannels } from '../../cli/actionsStage.ts';
import { alarmEventSink } from '../../sinks/alarms/alarmEventSink.ts';
import type { HotStore } from '../../sinks/hot/hotStore.ts';
import { postgresHotStore } from '../../sinks/hot/postgresHotStore.ts';
import { migrateWarm } from '../../sinks/postgres/migrate.ts';
import { pgSqlClient, type SqlClient } from '../../sinks/postgres/sql.ts';
import type { ResponsePolicySet } from '../../specs/responses/schema.ts';
import { type AlarmEvent, type BatchContext, ManualClock, silentLogger } from '../../topology/index.ts';
import { type ActionServices, startActionServices } from '../support/actionServices.ts';
import { episodeOf, eventOf, policySetOf } from '../support/actions.ts';
import { createTestDatabase, type TestDatabase, testPool } from '../support/postgres.ts';
import { waitFor } from '../support/wait.ts';

const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:alarms';
const ctx: BatchContext = {
  node: 'alarm-events',
  shardId: 'shardId-000000000000',
  position: { sequenceNumber: '1', subSequenceNumber: 0 },
  clock: new ManualClock(0),
};

describe('the outbox', () => {
  let db: TestDatabase;
  let write: SqlClient;
  let hot: HotStore;
  let services: ActionServices;
  let pool: ReturnType<typeof testPool>;
  const deliverers: OutboxDeliverer[] = [];
  let product = 0;

  beforeAll(async () => {
    db = await createTestDatabase('actions_outbox');
    write = pgSqlClient(testPool(db.url, 4));
    pool = testPool(db.url, 1);
    await migrateWarm(write);
    hot = postgresHotStore({ write, read: write }, { retentionDays: 10, ownsEndpoints: false });
    services = await startActionServices();
  }, 60_000);

  const opened: ReturnType<typeof openChannels>['channels'][] = [];

  afterEach(async () => {
    for (const d of deliverers.splice(0)) await d.stop();
    for (const c of opened.splice(0))
      await Promise.all(Object.values(c).map((channel) => channel?.close?.()));
  });

  afterAll(async () => {
    await services?.stop();
    await write?.close();
    await pool?.end();
    await db?.drop();
  });

  /** A sink writing events with the outbox rows of `set`, each test on a product of its own. */
  function sinkFor(set: ResponsePolicySet) {
    const policyFor = policiesOfSets([set]);
    return alarmEventSink(write, hot, outboxWriter({ policyFor, maxEventAgeMs: 3_600_000 }));
  }

  function deliverer(over: { flood?: { max: number; windowMs: number } } = {}) {
    const config = actionsConfigSchema.parse(services.config());
    const { channels, shadows } = openChannels(config);
    opened.push(channels);
    const d = new OutboxDeliverer({ warm: write, channels, shadows, pollMs: 50, log: silentLogger, ...over });
    deliverers.push(d);
    return d;
  }

  function nextProduct(yaml: string): { set: ResponsePolicySet; productId: string } {
    const productId = `p${++product}`;
    return { set: policySetOf(yaml.replace('PRODUCT', productId)), productId };
  }

  const rows = async (where: string, params: unknown[] = []) =>
    (
      await pool.query(
        `SELECT action_key, kind, status, result, last_error FROM action_outbox WHERE ${where} ORDER BY action_key`,
        params,
      )
    ).rows as {
      action_key: string;
      kind: string;
      status: string;
      result: string | null;
      last_error: string | null;
    }[];

  it('writes a raise written twice once, and sends each row once on e-mail, SNS and webhooks', async () => {
    const { set, productId } = nextProduct(`
id: s1
productId: PRODUCT
version: 1
policies:
  - alarm: overheat
    notify:
      - { after: 0s, to: [{ email: ops@example.com }, { sns: "${TOPIC}" }, { webhook: "${services.webhookUrl}/alarms" }] }
`);
    const sink = sinkFor(set);
    const now = Date.now();
    const events = Array.from({ length: 20 }, (_, i) =>
      eventOf(
        'raise',
        1,
        episodeOf(`dev-a${i}`, now - 1000, { productId, customerId: `c-a${i}` }),
        now - 1000,
      ),
    );
    await sink.write(events, ctx);
    await sink.write(events, ctx);
    const planned = await rows('product_id = $1', [productId]);
    expect(planned.length).toBe(60);

    const d = deliverer();
    while ((await d.deliverOnce()) > 0);
    expect(new Set((await rows('product_id = $1', [productId])).map((r) => r.status))).toEqual(
      new Set(['sent']),
    );
    const keys = new Set(planned.map((r) => r.action_key));
    const mailed = services.mails.filter((m) => m.key !== undefined && keys.has(m.key));
    const published = services.sns.messages.filter((m) =>
      keys.has(m.attributes['shardflow.key']?.value ?? ''),
    );
    const hooked = services.hooks.filter((h) => h.key !== undefined && keys.has(h.key));
    expect([mailed.length, published.length, hooked.length]).toEqual([20, 20, 20]);
    expect(new Set(mailed.map((m) => m.key)).size).toBe(20);
    expect(mailed[0]!.raw).toContain('dev-a');

    // the same events again, after delivery: nothing new planned, nothing sent again
    await sink.write(events, ctx);
    while ((await d.deliverOnce()) > 0);
    expect(services.mails.filter((m) => m.key !== undefined && keys.has(m.key)).length).toBe(20);
  });

  it('fires an escalation step at its delay, and an acknowledgement stops the next one', async () => {
    const { set, productId } = nextProduct(`
id: s2
productId: PRODUCT
version: 1
policies:
  - alarm: overheat
    notify:
      - { after: 0s, to: [{ email: first@example.com }] }
      - { after: 3s, to: [{ email: second@example.com }] }
      - { after: 8s, to: [{ email: third@example.com }] }
`);
    const sink = sinkFor(set);
    const d = deliverer();
    d.start();
    const episode = episodeOf('dev-esc', Date.now(), { productId, customerId: 'c-esc' });
    const raisedAt = Date.now();
    await sink.write([eventOf('raise', 1, episode, raisedAt)], ctx);
    const to = (address: string) =>
      services.mails.find((m) => m.to.includes(address) && m.key?.startsWith(episode.id));
    await waitFor('the second step', () => to('second@example.com') !== undefined, 15_000);
    const late = to('second@example.com')!.at - raisedAt - 3000;
    expect(Math.abs(late)).toBeLessThan(5000);
    expect(to('first@example.com')!.at - raisedAt).toBeLessThan(2000);

    const ackAt = Date.now();
    await sink.write(
      [eventOf('acknowledge', 2, { ...episode, acknowledged: true }, ackAt, { notify: false })],
      ctx,
    );
    const third = await rows('action_key LIKE $1', [`${episode.id}/notify.3/%`]);
    expect(third.map((r) => [r.status, r.result])).toEqual([['cancelled', 'acknowledged or ended']]);
    await new Promise((r) => setTimeout(r, 9000 - (Date.now() - raisedAt)));
    expect(to('third@example.com')).toBeUndefined();
  }, 30_000);

  it('keeps escalation delays across a restart: another deliverer sends the step at its time', async () => {
    const { set, productId } = nextProduct(`
id: s3
productId: PRODUCT
version: 1
policies:
  - alarm: overheat
    notify:
      - { after: 4s, to: [{ email: later@example.com }] }
`);
    const sink = sinkFor(set);
    const first = deliverer();
    first.start();
    const episode = episodeOf('dev-restart', Date.now(), { productId, customerId: 'c-restart' });
    const raisedAt = Date.now();
    await sink.write([eventOf('raise', 1, episode, raisedAt)], ctx);
    await new Promise((r) => setTimeout(r, 1000));
    await first.stop();
    deliverer().start();
    await waitFor(
      'the step after the restart',
      () => services.mails.some((m) => m.key?.startsWith(episode.id)),
      15_000,
    );
    const sent = services.mails.find((m) => m.key?.startsWith(episode.id))!;
    expect(Math.abs(sent.at - raisedAt - 4000)).toBeLessThan(5000);
  }, 30_000);

  it('publishes every notification once despite 30 % failed entries, in requests of at most 10 entries and 256 KiB', async () => {
    const filler = 'x'.repeat(40_000);
    const { set, productId } = nextProduct(`
id: s4
productId: PRODUCT
version: 1
templates:
  sns:
    default: { subject: "{{severity}} {{deviceId}}", body: "{{message}} on {{deviceId}} ${filler}" }
policies:
  - alarm: overheat
    notify:
      - { after: 0s, to: [{ sns: "${TOPIC}" }] }
`);
    const sink = sinkFor(set);
    const now = Date.now();
    const events = Array.from({ length: 120 }, (_, i) =>
      eventOf('raise', 1, episodeOf(`dev-sns${i}`, now, { productId, customerId: `c-sns-${i}` }), now),
    );
    await sink.write(events, ctx);
    services.sns.failEntries(0.3, 7);
    const requestsBefore = services.sns.requests.length;
    const d = deliverer();
    d.start();
    try {
      await waitFor(
        'every row sent',
        async () => (await rows("product_id = $1 AND status <> 'sent'", [productId])).length === 0,
        60_000,
      );
    } finally {
      services.sns.failEntries(0);
    }
    const keys = new Set((await rows('product_id = $1', [productId])).map((r) => r.action_key));
    const published = services.sns.messages.filter((m) =>
      keys.has(m.attributes['shardflow.key']?.value ?? ''),
    );
    expect(published.length).toBe(120);
    const requests = services.sns.requests.slice(requestsBefore);
    const retried = await pool.query(
      'SELECT count(*)::int AS n FROM action_outbox WHERE product_id = $1 AND attempts > 1',
      [productId],
    );
    expect(retried.rows[0].n).toBeGreaterThan(10);
    expect(Math.max(...requests.map((r) => r.entries))).toBeLessThanOrEqual(10);
    expect(Math.max(...requests.map((r) => r.bytes))).toBeLessThanOrEqual(262_144);
    // 40 KB messages: the size limit, not the entry count, cut these requests
    expect(requests.some((r) => r.entries > 0 && r.entries < 10 && r.bytes > 200_000)).toBe(true);
  }, 90_000);

  it('dispatches a technician when the device never reports the fix, within the limit and 5 s', async () => {
    await importEngineers(write, {
      engineers: [
        {
          id: 'eng-1',
          name: 'Ada',
          email: 'ada@example.com',
          skills: ['hvac'],
          regions: ['*'],
          zone: 'UTC',
          quietHours: null,
          active: true,
        },
      ],
      regions: {},
    } as never);
    const { set, productId } = nextProduct(`
id: s5
productId: PRODUCT
version: 1
shadow: { settableKeys: [mode], commandInterval: 10m }
policies:
  - alarm: overheat
    remoteFix: { shadow: { desired: { mode: reset }, within: 3s } }
    dispatch: { skills: [hvac] }
`);
    const sink = sinkFor(set);
    const d = deliverer();
    d.start();
    const stubborn = episodeOf('dev-stubborn', Date.now(), { productId, customerId: 'c-fix' });
    const obedient = episodeOf('dev-obedient', Date.now(), { productId, customerId: 'c-fix' });
    services.shadow.obey('dev-obedient', 500);
    const raisedAt = Date.now();
    await sink.write([eventOf('raise', 1, stubborn, raisedAt), eventOf('raise', 1, obedient, raisedAt)], ctx);
    await waitFor(
      'the dispatch',
      async () =>
        (await pool.query('SELECT 1 FROM dispatches WHERE episode_id = $1', [stubborn.id])).rows.length > 0,
      15_000,
    );
    const { rows: dispatched } = await pool.query(
      'SELECT engineer_id, status, created_at FROM dispatches WHERE episode_id = $1',
      [stubborn.id],
    );
    expect(dispatched[0]).toMatchObject({ engineer_id: 'eng-1', status: 'assigned' });
    expect(new Date(dispatched[0].created_at).getTime() - raisedAt).toBeLessThan(3000 + 5000);
    const update = services.shadow.updates.find((u) => u.thingName === 'dev-stubborn');
    expect(update?.desired).toEqual({ mode: 'reset' });
    await waitFor(
      "the obedient device's check",
      async () =>
        (await rows('action_key = $1', [`${obedient.id}/verify/shadow:dev-obedient`]))[0]?.status === 'sent',
      15_000,
    );
    expect((await rows('action_key = $1', [`${obedient.id}/verify/shadow:dev-obedient`]))[0]!.result).toMatch(
      /^fixed/,
    );
    expect((await pool.query('SELECT 1 FROM dispatches WHERE episode_id = $1', [obedient.id])).rows).toEqual(
      [],
    );
    // the engineer is told, and the dispatch workflow started, once
    await waitFor(
      'the engineer told',
      () => services.mails.some((m) => m.to.includes('ada@example.com')),
      10_000,
    );
    await waitFor('the workflow', () => services.workflow.executions.length > 0, 10_000);
    expect(services.workflow.executions.filter((e) => e.input.includes(stubborn.id)).length).toBe(1);
  }, 30_000);

  it('folds a customer’s notifications past the flood limit into one digest', async () => {
    const { set, productId } = nextProduct(`
id: s6
productId: PRODUCT
version: 1
policies:
  - alarm: overheat
    notify:
      - { after: 0s, to: [{ email: flood@example.com }] }
`);
    const sink = sinkFor(set);
    const now = Date.now();
    const events: AlarmEvent[] = Array.from({ length: 15 }, (_, i) =>
      eventOf('raise', 1, episodeOf(`dev-flood${i}`, now, { productId, customerId: 'cust-flood' }), now),
    );
    await sink.write(events, ctx);
    const d = deliverer({ flood: { max: 10, windowMs: 3000 } });
    d.start();
    await waitFor(
      'the digest',
      () => services.mails.some((m) => m.to.includes('flood@example.com') && m.key?.startsWith('digest/')),
      15_000,
    );
    const toFlood = services.mails.filter((m) => m.to.includes('flood@example.com'));
    expect(toFlood.filter((m) => !m.key?.startsWith('digest/')).length).toBe(10);
    expect(toFlood.filter((m) => m.key?.startsWith('digest/')).length).toBe(1);
    expect(toFlood.find((m) => m.key?.startsWith('digest/'))!.raw).toContain('5 alarm notifications');
    expect((await rows("product_id = $1 AND status = 'digested'", [productId])).length).toBe(5);
  }, 30_000);

  it('sends at most one shadow command per device per interval; the one held back dispatches instead', async () => {
    const { set, productId } = nextProduct(`
id: s7
productId: PRODUCT
version: 1
shadow: { settableKeys: [mode], commandInterval: 10m }
policies:
  - alarm: "*"
    remoteFix: { shadow: { desired: { mode: reset }, within: 1m } }
    dispatch: { skills: [] }
`);
    const sink = sinkFor(set);
    const now = Date.now();
    const a = episodeOf('dev-guard', now, { productId });
    const b = episodeOf('dev-guard', now + 1, { productId, ruleId: 'humid', id: 'guard-b' });
    await sink.write([eventOf('raise', 1, a, now)], ctx);
    const d = deliverer();
    while ((await d.deliverOnce()) > 0);
    await sink.write([eventOf('raise', 1, b, now)], ctx);
    while ((await d.deliverOnce()) > 0);
    expect((await rows('action_key = $1', [`${b.id}/fix/shadow:dev-guard`]))[0]).toMatchObject({
      status: 'skipped',
    });
    expect(services.shadow.updates.filter((u) => u.thingName === 'dev-guard').length).toBe(1);
    expect((await rows('action_key = $1', [`${b.id}/dispatch/outbox:technician`]))[0]?.status).toBe('sent');
  });

  it('creates a firmware job once, with rollout, abort and timeout set; a replay finds it there', async () => {
    const { set, productId } = nextProduct(`
id: s8
productId: PRODUCT
version: 1
policies:
  - alarm: overheat
    remoteFix:
      firmware: { version: "2.4.1", document: { url: "s3://fw/2.4.1.bin" }, expect: { firmware: "2.4.1" }, within: 1h }
`);
    const sink = sinkFor(set);
    const now = Date.now();
    const episode = episodeOf('dev-fw', now, { productId });
    await sink.write([eventOf('raise', 1, episode, now)], ctx);
    const d = deliverer();
    while ((await d.deliverOnce()) > 0);
    // the row delivered again (a crash before its commit): the job is there already, done
    await pool.query("UPDATE action_outbox SET status = 'pending' WHERE action_key = $1", [
      `${episode.id}/fix/firmware:dev-fw`,
    ]);
    await pool.query('DELETE FROM action_outbox WHERE action_key = $1', [
      `${episode.id}/verify/shadow:dev-fw`,
    ]);
    while ((await d.deliverOnce()) > 0);
    const jobs = services.jobs.jobs.filter((j) => j.targets.some((t) => t.endsWith('/dev-fw')));
    expect(jobs.length).toBe(1);
    expect(jobs[0]).toMatchObject({
      jobExecutionsRolloutConfig: { maximumPerMinute: 10 },
      timeoutConfig: { inProgressTimeoutInMinutes: 60 },
    });
    expect(jobs[0]!.abortConfig).toBeDefined();
    expect((await rows('action_key = $1', [`${episode.id}/fix/firmware:dev-fw`]))[0]!.status).toBe('sent');
  });

  it('sends a row again when its deliverer dies after the send and before its commit; a FIFO topic drops the copy', async () => {
    const fifo = 'arn:aws:sns:eu-west-1:123456789012:alarms.fifo';
    const { set, productId } = nextProduct(`
id: s9
productId: PRODUCT
version: 1
policies:
  - alarm: overheat
    notify:
      - { after: 0s, to: [{ sns: "${TOPIC}" }, { sns: "${fifo}" }] }
`);
    const sink = sinkFor(set);
    const now = Date.now();
    const episode = episodeOf('dev-crash', now, { productId, customerId: 'c-crash' });
    await sink.write([eventOf('raise', 1, episode, now)], ctx);
    // a fake for the fault no server can be made to produce: the transaction ends without its commit,
    // as when the worker is killed between the services' answers and the COMMIT
    const dying: SqlClient = {
      ...write,
      transaction: (work) =>
        write.transaction(async (tx) => {
          await work(tx);
          throw new Error('killed before the commit');
        }),
    };
    const config = actionsConfigSchema.parse(services.config());
    const { channels } = openChannels(config);
    opened.push(channels);
    await expect(
      new OutboxDeliverer({ warm: dying, channels, log: silentLogger }).deliverOnce(),
    ).rejects.toThrow('killed before the commit');
    expect((await rows('product_id = $1', [productId])).map((r) => r.status)).toEqual(['pending', 'pending']);
    const d = deliverer();
    while ((await d.deliverOnce()) > 0);
    const arrived = (topic: string) =>
      services.sns.messages.filter(
        (m) => m.topicArn === topic && m.attributes['shardflow.key']?.value.startsWith(episode.id),
      ).length;
    expect(arrived(TOPIC)).toBe(2);
    expect(arrived(fifo)).toBe(1);
  });

  it('holds a shelved episode’s escalation step until the shelving ends', async () => {
    const { set, productId } = nextProduct(`
id: s10
productId: PRODUCT
version: 1
policies:
  - alarm: overheat
    notify:
      - { after: 2s, to: [{ email: shelved@example.com }] }
`);
    const sink = sinkFor(set);
    deliverer().start();
    const raisedAt = Date.now();
    const episode = episodeOf('dev-shelved', raisedAt, { productId, customerId: 'c-shelved' });
    await sink.write([eventOf('raise', 1, episode, raisedAt)], ctx);
    const until = raisedAt + 5000;
    await sink.write(
      [eventOf('shelve', 2, { ...episode, shelvedUntil: until }, raisedAt + 100, { notify: false })],
      ctx,
    );
    await waitFor(
      'the step after the shelving',
      () => services.mails.some((m) => m.to.includes('shelved@example.com')),
      15_000,
    );
    const sent = services.mails.find((m) => m.to.includes('shelved@example.com'))!;
    // not at its delay (2 s) but at the shelving's end (5 s), within the clocks' millisecond roundings
    expect(sent.at).toBeGreaterThanOrEqual(until - 50);
    expect(sent.at - until).toBeLessThan(3000);
    // the mail arrives before the deliverer commits its row: wait for the commit
    const row = async () =>
      (await pool.query('SELECT status, attempts FROM action_outbox WHERE episode_id = $1', [episode.id]))
        .rows[0] as { status: string; attempts: number };
    await waitFor('the row marked sent', async () => (await row()).status === 'sent', 15_000);
    expect((await row()).attempts).toBe(1);
  }, 30_000);
});
