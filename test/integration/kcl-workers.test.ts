/**
 * The native KCL with several worker processes (separate OS processes, real kinesalite, dynalite
 * and PostgreSQL): balance, failover after `kill -9`, graceful handoff on SIGTERM, a reshard while
 * records flow, and a paused worker whose lease was stolen.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type KinesisClient, ListShardsCommand, MergeShardsCommand } from '@aws-sdk/client-kinesis';
import type pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type KinesisProducer, kinesisProducer } from '../../gateways/kinesis/producer.ts';
import { createKinesisClient } from '../../sources/kinesis/client.ts';
import { LeaseRefresher } from '../../sources/kinesis/leases/leaseRefresher.ts';
import { systemClock } from '../../topology/index.ts';
import { testDynamoClient, uniqueTable } from '../support/dynamodb.ts';
import { DELIVERIES_DDL, type KclWorkerConfig } from '../support/kclWorker.ts';
import { createStream, splitFirstShard, uniqueStream, waitForActive } from '../support/kinesis.ts';
import { createTestDatabase, type TestDatabase, testPool } from '../support/postgres.ts';
import { testEnv, waitFor } from '../support/wait.ts';

const WORKER = fileURLToPath(new URL('../support/kclWorkerProcess.ts', import.meta.url));
const TIMING = { failoverTimeMs: 2000, renewIntervalMs: 500, takeIntervalMs: 200 };
const MAX_RECORDS = 100;
const WINDOW = 1;

interface Worker {
  readonly id: string;
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  logs(): Array<{ msg: string; shardId?: string }>;
}

interface Delivery {
  readonly record_id: string;
  readonly partition_key: string;
  readonly shard_id: string;
  readonly sequence_number: string;
  readonly worker: string;
}

class Scenario {
  readonly kinesis: KinesisClient = createKinesisClient({
    region: 'us-east-1',
    endpoint: testEnv('SHARDFLOW_TEST_KINESIS_ENDPOINT'),
  });
  readonly dynamo = testDynamoClient();
  readonly stream = uniqueStream('workers');
  readonly table = uniqueTable('workers');
  readonly refresher = new LeaseRefresher(this.dynamo, this.table);
  readonly producer: KinesisProducer = kinesisProducer({
    client: this.kinesis,
    clock: systemClock,
    streamName: this.stream,
  });
  readonly workers: Worker[] = [];
  db!: TestDatabase;
  pool!: pg.Pool;
  private nextId = 0;

  async setUp(shards: number): Promise<void> {
    await createStream(this.kinesis, this.stream, shards);
    this.db = await createTestDatabase('workers');
    this.pool = testPool(this.db.url, 2);
    await this.pool.query(DELIVERIES_DDL);
  }

  start(id: string, overrides: Partial<KclWorkerConfig> = {}): Worker {
    const config: KclWorkerConfig = {
      stream: this.stream,
      table: this.table,
      workerId: id,
      kinesisEndpoint: testEnv('SHARDFLOW_TEST_KINESIS_ENDPOINT'),
      dynamodbEndpoint: testEnv('SHARDFLOW_TEST_DYNAMODB_ENDPOINT'),
      postgresUrl: this.db.url,
      maxRecords: MAX_RECORDS,
      maxInFlightBatches: WINDOW,
      ...TIMING,
      ...overrides,
    };
    const child = spawn(process.execPath, ['--import', 'tsx', WORKER], {
      env: {
        ...process.env,
        KCL_WORKER: JSON.stringify(config),
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (d) => {
      stderr += d;
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const worker: Worker = {
      id,
      child,
      exited,
      logs: () =>
        stderr
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l)),
    };
    this.workers.push(worker);
    return worker;
  }

  /** Puts records {id} for ids [next, next + n), partition keys pk-0..pk-49. */
  async put(n: number): Promise<void> {
    const encoder = new TextEncoder();
    const records = [];
    for (let i = 0; i < n; i++, this.nextId++) {
      records.push({
        partitionKey: `pk-${this.nextId % 50}`,
        data: encoder.encode(JSON.stringify({ id: this.nextId })),
      });
    }
    await this.producer.putRecords(records);
  }

  get produced(): number {
    return this.nextId;
  }

  async owners(): Promise<Map<string, string[]>> {
    const byOwner = new Map<string, string[]>();
    // the first worker creates the table; until then nobody owns anything
    const leases = await this.refresher.listLeases().catch(() => []);
    for (const lease of leases) {
      if (
        lease.leaseOwner === undefined ||
        ('sentinel' in lease.checkpoint && lease.checkpoint.sentinel === 'SHARD_END')
      )
        continue;
      byOwner.set(lease.leaseOwner, [...(byOwner.get(lease.leaseOwner) ?? []), lease.leaseKey]);
    }
    return byOwner;
  }

  /**
   * Waits until the lease counts match `expected` (e.g. '2/2/2') and stay so for `settleMs`. A worker
   * stolen from keeps reading until its next renewal fails, so records put right after the steal
   * was written could be delivered by both (at-least-once, as with KCL); a settled balance excludes
   * that from tests about something else.
   */
  async balanced(expected: string, timeoutMs: number, settleMs: number): Promise<void> {
    const counts = async () =>
      [...(await this.owners()).values()]
        .map((s) => s.length)
        .sort()
        .join('/');
    await waitFor(expected, async () => (await counts()) === expected, timeoutMs);
    await new Promise((r) => setTimeout(r, settleMs));
    await waitFor(`${expected} still`, async () => (await counts()) === expected, timeoutMs);
  }

  async deliveries(): Promise<Delivery[]> {
    return (await this.pool.query<Delivery>('SELECT * FROM deliveries ORDER BY n')).rows;
  }

  async distinctDelivered(): Promise<number> {
    const { rows } = await this.pool.query<{ n: string }>(
      'SELECT count(DISTINCT record_id)::text AS n FROM deliveries',
    );
    return Number(rows[0]!.n);
  }

  async tearDown(): Promise<void> {
    for (const w of this.workers) if (w.child.exitCode === null) w.child.kill('SIGKILL');
    await Promise.all(this.workers.map((w) => w.exited));
    await this.pool?.end();
    await this.db?.drop();
    this.kinesis.destroy();
    this.dynamo.destroy();
  }
}

describe('KCL worker processes', { timeout: 180_000 }, () => {
  let scenario: Scenario | undefined;
  afterEach(async () => {
    await scenario?.tearDown();
    scenario = undefined;
  });
  afterAll(async () => scenario?.tearDown());

  it('three workers on eight shards end balanced 3/3/2 within three failover times', async () => {
    scenario = new Scenario();
    await scenario.setUp(8);
    const workers = ['w1', 'w2', 'w3'].map((id) => scenario!.start(id));
    // the clock starts when the last worker's lease coordinator runs: starting Node processes on a
    // busy machine is not what is measured
    await waitFor(
      'three coordinators',
      () => workers.every((w) => w.logs().some((l) => l.msg === 'lease coordinator started')),
      60_000,
    );
    const started = Date.now();
    await waitFor(
      '3/3/2',
      async () => {
        const counts = [...(await scenario!.owners()).values()].map((s) => s.length).sort();
        return counts.join('/') === '2/3/3';
      },
      3 * TIMING.failoverTimeMs + 15_000,
    );
    const elapsed = Date.now() - started;
    console.log(`balanced 3/3/2 ${elapsed} ms after the last worker started`);
    expect(elapsed).toBeLessThan(3 * TIMING.failoverTimeMs);
  });

  it('after kill -9 the shards move within failover + renew interval; nothing is lost and redelivery is bounded', async () => {
    scenario = new Scenario();
    await scenario.setUp(8);
    const [victim] = ['w1', 'w2', 'w3'].map((id) => scenario!.start(id));
    await scenario.balanced('2/3/3', 30_000, TIMING.renewIntervalMs + 2 * TIMING.takeIntervalMs);

    const total = 50_000;
    const producing = (async () => {
      for (let sent = 0; sent < total; sent += 5000) await scenario!.put(5000);
    })();
    await waitFor('records flowing', async () => (await scenario!.distinctDelivered()) > 10_000, 60_000);
    const moved = (await scenario.owners()).get('w1') ?? [];
    victim!.child.kill('SIGKILL');
    const killedAt = Date.now();
    await waitFor(
      'takeover',
      async () => {
        const owners = await scenario!.owners();
        return !owners.has('w1') && [...owners.values()].flat().length === 8;
      },
      30_000,
    );
    const takeoverMs = Date.now() - killedAt;
    console.log(`kill -9: ${moved.length} shards taken over after ${takeoverMs} ms`);
    // the expiry is observed by the takers' scans, so one scan interval of slack is allowed
    expect(takeoverMs).toBeLessThanOrEqual(
      TIMING.failoverTimeMs + TIMING.renewIntervalMs + TIMING.takeIntervalMs + 500,
    );

    await producing;
    await waitFor('all 50,000', async () => (await scenario!.distinctDelivered()) === total, 120_000);
    const rows = await scenario.deliveries();
    const redelivered = rows.length - new Set(rows.map((r) => `${r.shard_id}/${r.sequence_number}`)).size;
    console.log(`kill -9: ${redelivered} records delivered twice over ${moved.length} moved shards`);
    expect(new Set(rows.map((r) => r.record_id)).size).toBe(total);
    expect(redelivered).toBeLessThanOrEqual(moved.length * WINDOW * MAX_RECORDS);
  });

  it('on SIGTERM a worker hands its shards over in under 2 s, with no redelivery at all', async () => {
    scenario = new Scenario();
    await scenario.setUp(6);
    // The handoff does not wait for the failover time; a long one keeps a CPU-starved worker (the
    // suite shares two cores) from losing leases by expiry, which would redeliver for another reason.
    const [leaving] = ['w1', 'w2', 'w3'].map((id) =>
      scenario!.start(id, { failoverTimeMs: 10_000, renewIntervalMs: 1_000 }),
    );
    await scenario.balanced('2/2/2', 30_000, 1_000 + 2 * TIMING.takeIntervalMs);
    const producing = (async () => {
      for (let sent = 0; sent < 6000; sent += 500) await scenario!.put(500);
    })();
    await waitFor('records flowing', async () => (await scenario!.distinctDelivered()) > 1000, 30_000);
    leaving!.child.kill('SIGTERM');
    const signalled = Date.now();
    await waitFor(
      'handover',
      async () => {
        const owners = await scenario!.owners();
        return !owners.has('w1') && [...owners.values()].flat().length === 6;
      },
      10_000,
    );
    const handoverMs = Date.now() - signalled;
    console.log(`SIGTERM: shards moved after ${handoverMs} ms`);
    expect(handoverMs).toBeLessThan(2000);
    expect(await leaving!.exited).toBe(0);

    await producing;
    await waitFor(
      'all records',
      async () => (await scenario!.distinctDelivered()) === scenario!.produced,
      60_000,
    );
    const rows = await scenario.deliveries();
    const firstSeq = new Map<string, string>();
    const twice: string[] = [];
    for (const r of rows) {
      const seen = firstSeq.get(r.record_id);
      if (seen !== undefined)
        twice.push(
          `${r.shard_id} ${r.worker} id ${r.record_id} seq ${seen === r.sequence_number ? 'same' : 'different'}`,
        );
      else firstSeq.set(r.record_id, r.sequence_number);
    }
    if (twice.length > 0) console.log('delivered twice:', twice.slice(0, 5), twice.length);
    expect(rows.length).toBe(scenario.produced);
  });

  it('a split and a merge while records flow lose nothing and keep each partition key in sequence order', async () => {
    scenario = new Scenario();
    await scenario.setUp(4);
    scenario.start('w1');
    scenario.start('w2');
    await scenario.balanced('2/2', 30_000, TIMING.renewIntervalMs + 2 * TIMING.takeIntervalMs);

    await scenario.put(3000);
    await splitFirstShard(scenario.kinesis, scenario.stream);
    await scenario.put(3000);
    const open = (
      (await scenario.kinesis.send(new ListShardsCommand({ StreamName: scenario.stream }))).Shards ?? []
    ).filter((s) => s.SequenceNumberRange?.EndingSequenceNumber === undefined);
    const [third, fourth] = open.filter((s) =>
      ['shardId-000000000002', 'shardId-000000000003'].includes(s.ShardId!),
    );
    await scenario.kinesis.send(
      new MergeShardsCommand({
        StreamName: scenario.stream,
        ShardToMerge: third!.ShardId,
        AdjacentShardToMerge: fourth!.ShardId,
      }),
    );
    await waitForActive(scenario.kinesis, scenario.stream);
    await scenario.put(3000);

    await waitFor(
      'all records',
      async () => (await scenario!.distinctDelivered()) === scenario!.produced,
      90_000,
    );
    const rows = await scenario.deliveries();
    // first delivery of each record, in the order the sink wrote them
    const first = new Map<string, Delivery>();
    for (const r of rows) if (!first.has(r.record_id)) first.set(r.record_id, r);
    const lastSeq = new Map<string, bigint>();
    for (const r of first.values()) {
      const seq = BigInt(r.sequence_number);
      expect(seq > (lastSeq.get(r.partition_key) ?? -1n), `order of ${r.partition_key}`).toBe(true);
      lastSeq.set(r.partition_key, seq);
    }
    expect(new Set(rows.map((r) => r.shard_id)).size).toBeGreaterThanOrEqual(7); // 4 + 2 children + 1 merged
  });

  it('a paused worker whose leases were stolen writes no checkpoint and stops processing them', async () => {
    scenario = new Scenario();
    await scenario.setUp(4);
    // the paused worker scans rarely, so it does not take leases back while the test watches
    const paused = scenario.start('w1', { takeIntervalMs: 120_000 });
    await waitFor(
      'w1 holds all',
      async () => ((await scenario!.owners()).get('w1')?.length ?? 0) === 4,
      20_000,
    );
    scenario.start('w2');
    // settled, so w1 has noticed the balancing steals before it is paused
    await scenario.balanced('2/2', 30_000, TIMING.renewIntervalMs + 2 * TIMING.takeIntervalMs);
    const stolen = (await scenario.owners()).get('w1')!;

    const lostBefore = paused.logs().filter((l) => l.msg === 'lease lost').length; // from the balancing steals
    paused.child.kill('SIGSTOP');
    await waitFor(
      'w2 took them',
      async () => ((await scenario!.owners()).get('w2')?.length ?? 0) === 4,
      20_000,
    );
    // records arrive while w1 is frozen: on waking, its readers find them before any renewal fails
    await scenario.put(2000);
    const before = new Map((await scenario.refresher.listLeases()).map((l) => [l.leaseKey, l]));
    paused.child.kill('SIGCONT');
    await waitFor(
      'w1 noticed',
      () => paused.logs().filter((l) => l.msg === 'lease lost').length >= lostBefore + stolen.length,
      10_000,
    );
    const resumedAt = Date.now();

    await scenario.put(1000);
    await waitFor(
      'all records',
      async () => (await scenario!.distinctDelivered()) === scenario!.produced,
      60_000,
    );
    const rows = await scenario.deliveries();
    expect(rows.filter((r) => r.worker === 'w1')).toHaveLength(0);
    const after = await scenario.refresher.listLeases();
    for (const lease of after) {
      expect(lease.leaseOwner).toBe('w2');
      // every write since the pause was w2's: the counter moved on from what w2 had, never back to w1
      expect(lease.leaseCounter).toBeGreaterThanOrEqual(before.get(lease.leaseKey)!.leaseCounter);
    }
    expect(paused.logs().some((l) => l.msg === 'lease lost' && stolen.includes(l.shardId!))).toBe(true);
    expect(Date.now() - resumedAt).toBeGreaterThan(0);
  });
});
