/**
 * Published state: an operator's map state under the shard's own key `''`, published with each
 * snapshot, is readable by the operator on every shard (`OpenContext.published`), with every shard's
 * watermark and the time of its last batch; a snapshot that is never written publishes nothing.
 */
import { describe, expect, it } from 'vitest';
import { embeddedStateStore } from '../../../state/keyed/embeddedStateStore.ts';
import {
  flushMicrotasks,
  ManualClock,
  MemorySource,
  type Operator,
  type Position,
  type PublishedState,
  type SnapshotWrite,
  type StateStore,
  TopologyBuilder,
  TopologyTestDriver,
} from '../../../topology/index.ts';
import { arraySink } from './fixtures.ts';

/** A sale of `customer` at event time `t`; a query asks for every shard's total of the customer. */
interface Sale {
  readonly customer: string;
  readonly amount: number;
  readonly t: number;
  readonly query?: boolean;
}

/** Sums sales per customer in the shard's own key (published); a query emits every shard's sum. */
function customerTotals(): Operator<Sale, string> & { published?: PublishedState } {
  const operator: Operator<Sale, string> & { published?: PublishedState } = {
    type: 'customer-totals',
    state: [{ name: 'totals', kind: 'map', publish: { ttlMs: 60_000 } }],
    open: (ctx) => {
      operator.published = ctx.published;
    },
    process: async (batch, ctx) => {
      const totals = ctx.state!.map<number>('totals');
      const out: string[] = [];
      for (const sale of batch) {
        if (sale.query) {
          const read = await operator.published!.read<number>('totals', [sale.customer, 'nobody']);
          out.push(JSON.stringify([...read].map(([field, byShard]) => [field, Object.fromEntries(byShard)])));
          continue;
        }
        totals.set('', sale.customer, (totals.get('', sale.customer) ?? 0) + sale.amount);
        // another key's fields are not published
        totals.set(sale.customer, 'last', sale.amount);
        ctx.timers!.advanceWatermark(sale.t);
      }
      return out;
    },
  };
  return operator;
}

function totalsTopology() {
  const b = new TopologyBuilder('published');
  const sales = b.source('sales', new MemorySource<Sale>());
  const operator = customerTotals();
  const out = sales.via('totals', operator).to('out', arraySink<string>([]));
  return { topology: b.build(), sales, out, operator };
}

/** Waits until `condition` holds. */
async function until(condition: () => boolean): Promise<void> {
  for (let round = 0; round < 20_000; round++) {
    if (condition()) return;
    await flushMicrotasks(2);
  }
  throw new Error(`condition never held: ${condition}`);
}

const checkpointed = (
  driver: TopologyTestDriver,
  t: ReturnType<typeof totalsTopology>,
  shard: string,
  p: Position,
) => until(() => driver.checkpoints(t.sales, shard).at(-1)?.sequenceNumber === p.sequenceNumber);

describe('published keyed state', () => {
  it('lets every shard read the others’ published fields and watermarks after their snapshots', async () => {
    const clock = new ManualClock(1_000);
    const store = embeddedStateStore(clock);
    const t = totalsTopology();
    const driver = new TopologyTestDriver(t.topology, { clock, stateStore: store });
    await checkpointed(
      driver,
      t,
      's-0',
      driver.send(t.sales, 's-0', [{ customer: 'c1', amount: 5, t: 100 }]),
    );
    await clock.advance(1_000);
    const p1 = driver.send(t.sales, 's-1', [
      { customer: 'c1', amount: 7, t: 300 },
      { customer: 'c2', amount: 1, t: 250 },
    ]);
    await checkpointed(driver, t, 's-1', p1);

    expect(
      (await t.operator.published!.watermarks()).toSorted((a, b) => a.shardId.localeCompare(b.shardId)),
    ).toEqual([
      { shardId: 's-0', watermark: 100, activeAt: 1_000 },
      { shardId: 's-1', watermark: 300, activeAt: 2_000 },
    ]);
    // only the shard's own key is published
    expect(await t.operator.published!.read('totals', ['c1', 'c2', 'last'])).toEqual(
      new Map([
        [
          'c1',
          new Map([
            ['s-0', 5],
            ['s-1', 7],
          ]),
        ],
        ['c2', new Map([['s-1', 1]])],
      ]),
    );

    await clock.advance(1_000);
    driver.send(t.sales, 's-0', [{ customer: 'c1', amount: 0, t: 0, query: true }]);
    await driver.settle();
    expect(driver.output(t.out)).toEqual([JSON.stringify([['c1', { 's-0': 5, 's-1': 7 }]])]);
    await driver.close();
  });

  it('refuses publish on value state, naming the node and the state', async () => {
    const b = new TopologyBuilder('published');
    const sales = b.source('sales', new MemorySource<Sale>());
    sales
      .via('totals', {
        type: 'bad',
        state: [{ name: 'total', kind: 'value', publish: { ttlMs: 1_000 } }],
        process: () => [],
      })
      .to('out', arraySink<never>([]));
    const driver = new TopologyTestDriver(b.build(), { stateStore: embeddedStateStore() });
    driver.send(sales, 's-0', [{ customer: 'c1', amount: 1, t: 1 }]);
    await expect(driver.close()).rejects.toThrow(/node "totals": state "total" is a value state/);
  });

  it('publishes nothing of a snapshot the worker died before writing', async () => {
    const clock = new ManualClock(1_000);
    const inner = embeddedStateStore(clock);
    let dead = false;
    let attempted = false;
    const store: StateStore = {
      ...inner,
      write: (snapshot: SnapshotWrite) => {
        if (!dead) return inner.write(snapshot);
        attempted = true;
        return new Promise(() => {});
      },
    };
    const t = totalsTopology();
    const driver = new TopologyTestDriver(t.topology, { clock, stateStore: store });
    await checkpointed(
      driver,
      t,
      's-0',
      driver.send(t.sales, 's-0', [{ customer: 'c1', amount: 5, t: 100 }]),
    );

    dead = true;
    await clock.advance(1_000);
    driver.send(t.sales, 's-0', [{ customer: 'c1', amount: 10, t: 900 }]);
    await until(() => attempted);
    const group = JSON.stringify(['totals', 'totals', 'c1']);
    expect((await inner.readPublished([group])).get(group)).toEqual(new Map([['s-0', new Uint8Array([53])]]));
    expect(await inner.publishedWatermarks('totals')).toEqual([
      { shardId: 's-0', watermark: 100, activeAt: 1_000 },
    ]);
  });
});
