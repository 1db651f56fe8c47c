/**
 * Records a store refuses are isolated by the runtime: the rest of the batch is written, each refused
 * record becomes a dead letter on the node's `rejected` output, and the shard moves on. The refusing
 * store here is a fake that injects the fault (a real PostgreSQL refusing rows is tested in
 * `test/integration/store-rejects.test.ts`).
 */
import { describe, expect, it } from 'vitest';
import {
  type DeadLetter,
  ManualClock,
  MemorySource,
  type Operator,
  RecordRejectedError,
  renderPrometheus,
  type Sink,
  silentLogger,
  TopologyBuilder,
  TopologyError,
  TopologyTestDriver,
} from '../../../topology/index.ts';
import { arraySink } from './fixtures.ts';

interface Row {
  readonly id: number;
  readonly text: string;
}

const refused = (text: string) =>
  new RecordRejectedError({ store: 'fakedb', code: '22021', constraint: 'text' }, `cannot store ${text}`);

/** A store that refuses any batch holding a row whose text contains NUL, and counts its calls. */
function refusingStore(options: { outageCalls?: number } = {}) {
  const written: Row[] = [];
  let calls = 0;
  let outage = options.outageCalls ?? 0;
  const sink: Sink<Row> = {
    type: 'refusing',
    rejects: 'isolate',
    write: async (batch) => {
      calls++;
      const bad = batch.find((r) => r.text.includes('\u0000'));
      if (bad !== undefined) {
        // an outage in the middle of the isolation: retried like any other
        if (outage-- > 0) throw new Error('connection reset');
        throw refused(JSON.stringify(bad.text));
      }
      written.push(...batch);
    },
  };
  return { sink, written, calls: () => calls };
}

function rows(n: number, bad: readonly number[]): Row[] {
  return Array.from({ length: n }, (_, id) => ({
    id,
    text: bad.includes(id) ? `x\u0000${id}` : `row ${id}`,
  }));
}

function topology(sink: Sink<Row>) {
  const b = new TopologyBuilder('isolation');
  const input = b.source('input', new MemorySource<Row>());
  const db = input.to('db', sink);
  const rejected = db.rejected().to('db-rejects', arraySink<DeadLetter>([]));
  return { topology: b.build(), input, rejected };
}

describe('isolating records a store refuses', () => {
  it('writes the other 499 records of a 500-record batch and dead-letters the one refused', async () => {
    const store = refusingStore();
    const t = topology(store.sink);
    const driver = new TopologyTestDriver(t.topology, { sinks: 'tap' });
    const position = driver.send(t.input, 'shard-1', rows(500, [321]));
    await driver.settle();

    expect(store.written.map((r) => r.id)).toEqual(
      rows(500, [])
        .map((r) => r.id)
        .filter((id) => id !== 321),
    );
    const [letter, ...more] = driver.output(t.rejected);
    expect(more).toEqual([]);
    expect(letter).toMatchObject({
      node: 'db',
      code: 'store-rejected',
      shardId: 'shard-1',
      sequenceNumber: position.sequenceNumber,
    });
    expect(letter!.reason).toContain('fakedb 22021 (text)');
    expect(letter!.reason).not.toContain('\u0000');
    expect(JSON.parse(Buffer.from(letter!.payloadBase64, 'base64').toString('utf8'))).toEqual({
      id: 321,
      text: 'x\u0000321',
    });
    // the batch is done: its checkpoint moved, and the attempts stayed near 2·log2(500)
    expect(driver.checkpoints(t.input, 'shard-1')).toEqual([position]);
    expect(store.calls()).toBeLessThanOrEqual(1 + 2 * Math.ceil(Math.log2(500)));
    const metrics = driver.metrics();
    expect(metrics.nodes.find((n) => n.node === 'db')?.isolated).toEqual({ '22021': 1 });
    expect(renderPrometheus(metrics)).toContain(
      'shardflow_records_isolated_total{node="db",kind="sink",reason="22021"} 1',
    );
    await driver.close();
  });

  it('finds every refused record, keeps the order of the rest, and gives each a distinct dead letter', async () => {
    const store = refusingStore();
    const t = topology(store.sink);
    const driver = new TopologyTestDriver(t.topology, { sinks: 'tap' });
    const bad = [0, 1, 77, 78, 200, 499];
    driver.send(t.input, 's', rows(500, bad));
    driver.send(t.input, 's', rows(3, []));
    await driver.settle();
    expect(store.written.slice(0, 494).map((r) => r.id)).toEqual(
      rows(500, [])
        .map((r) => r.id)
        .filter((id) => !bad.includes(id)),
    );
    expect(store.written.slice(494).map((r) => r.id)).toEqual([0, 1, 2]);
    const letters = driver.output(t.rejected);
    expect(letters).toHaveLength(bad.length);
    expect(new Set(letters.map((l) => l.item)).size).toBe(bad.length);
    await driver.close();
  });

  it('retries an outage that happens while it isolates, then finishes', async () => {
    const clock = new ManualClock(0);
    const store = refusingStore({ outageCalls: 2 });
    const t = topology(store.sink);
    const driver = new TopologyTestDriver(t.topology, {
      sinks: 'tap',
      clock,
      sinkRetry: { maxAttempts: 0, initialDelayMs: 100, maxDelayMs: 100 },
    });
    driver.send(t.input, 's', rows(8, [5]));
    for (let i = 0; i < 10 && driver.output(t.rejected).length === 0; i++) {
      while (clock.pending === 0 && driver.output(t.rejected).length === 0)
        await new Promise((r) => setTimeout(r, 1));
      if (clock.pending > 0) await clock.advance(100);
    }
    await driver.settle();
    expect(store.written).toHaveLength(7);
    expect(driver.output(t.rejected).map((l) => l.code)).toEqual(['store-rejected']);
    await driver.close();
  });

  it('isolates in an operator that reads a store, sending its other outputs on', async () => {
    const lookup: Operator<Row, string> = {
      type: 'lookup',
      retry: 'like-sink',
      rejects: 'isolate',
      process: async (batch) => {
        const bad = batch.find((r) => r.text.includes('\u0000'));
        if (bad) throw refused('a key');
        return batch.map((r) => r.text);
      },
    };
    const b = new TopologyBuilder('operator-isolation');
    const input = b.source('input', new MemorySource<Row>());
    const looked = input.via('lookup', lookup);
    const texts = looked.to('texts', arraySink<string>([]));
    const rejected = looked.rejected().to('lookup-rejects', arraySink<DeadLetter>([]));
    const driver = new TopologyTestDriver(b.build());
    driver.send(input, 's', rows(10, [3, 4]));
    await driver.settle();
    expect(driver.output(texts)).toEqual(
      rows(10, [])
        .map((r) => r.text)
        .filter((_, i) => i !== 3 && i !== 4),
    );
    expect(driver.output(rejected).map((l) => l.node)).toEqual(['lookup', 'lookup']);
    await driver.close();
  });

  it('retries a refused batch of a sink that cannot isolate, and reports the shard stuck past the retry age', async () => {
    const clock = new ManualClock(0);
    const lines: Array<{ fields: Record<string, unknown>; message: string }> = [];
    const log = {
      ...silentLogger,
      error: (fields: object, message: string) =>
        lines.push({ fields: fields as Record<string, unknown>, message }),
      info: (fields: object, message: string) =>
        lines.push({ fields: fields as Record<string, unknown>, message }),
    };
    let refusing = true;
    const written: Row[] = [];
    const positional: Sink<Row> = {
      type: 'positional',
      write: async (batch) => {
        if (refusing) throw refused('anything');
        written.push(...batch);
      },
    };
    const b = new TopologyBuilder('stuck');
    const input = b.source('input', new MemorySource<Row>());
    input.to('positional', positional);
    const driver = new TopologyTestDriver(b.build(), {
      clock,
      log,
      sinks: 'tap',
      maxRetryAgeMs: 30_000,
      sinkRetry: { maxAttempts: 0, initialDelayMs: 10_000, maxDelayMs: 10_000 },
    });
    driver.send(input, 'shard-9', rows(2, [1]));
    const stuckLines = () => lines.filter((l) => l.message.startsWith('shard stuck'));
    // 120 s in steps of 1 s: the retries (8–10 s apart, with jitter) wake at their own times
    for (let t = 0; t < 120_000; t += 1_000) {
      while (clock.pending === 0) await new Promise((r) => setTimeout(r, 1));
      await clock.advance(1_000);
    }
    // stuck from the first retry at or past 30 s (30–40 s), reported then and again a minute later
    // (at most 70 s later); the third report would come at 150 s at the earliest
    const ages = stuckLines().map((l) => l.fields.retryingForMs as number);
    expect(ages).toHaveLength(2);
    expect(ages[0]).toBeGreaterThanOrEqual(30_000);
    expect(ages[0]).toBeLessThanOrEqual(40_000);
    expect(ages[1]! - ages[0]!).toBeGreaterThanOrEqual(60_000);
    expect(ages[1]! - ages[0]!).toBeLessThanOrEqual(70_000);
    expect(stuckLines()[0]!.fields).toMatchObject({ shardId: 'shard-9', node: 'positional' });
    const prom = renderPrometheus(driver.metrics());
    expect(prom).toContain('shardflow_shard_stuck{source="input",shard="shard-9"} 1');
    expect(written).toEqual([]);

    refusing = false;
    while (clock.pending === 0) await new Promise((r) => setTimeout(r, 1));
    await clock.advance(10_000);
    await driver.settle();
    expect(written).toHaveLength(2);
    expect(lines.at(-1)?.message).toBe('shard no longer stuck');
    expect(renderPrometheus(driver.metrics())).toContain(
      'shardflow_shard_stuck{source="input",shard="shard-9"} 0',
    );
    await driver.close();
  });

  it('refuses a topology whose isolating node has no rejected output, and rejected() on a node that cannot isolate', () => {
    const b = new TopologyBuilder('unconnected');
    const input = b.source('input', new MemorySource<Row>());
    input.to('db', refusingStore().sink);
    expect(() => b.build()).toThrow(/the rejected output of node "db" is not connected/);

    const c = new TopologyBuilder('plain');
    const plain = c.source('input', new MemorySource<Row>()).to('plain', arraySink<Row>([]));
    expect(() => plain.rejected()).toThrow(TopologyError);
  });
});
