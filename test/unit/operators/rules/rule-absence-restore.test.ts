/**
 * Absence rules across a lease move, on the runtime (`TopologyRuntime`, the embedded keyed state store,
 * a `ManualClock`): worker A reads a shard for ten minutes and loses its lease; nobody reads it for
 * fifteen; worker B takes it over, restores the rule states and their timers from A's snapshot, and
 * reads what the gap left in the stream. The gap made every device look silent for T; only the
 * device that really fell silent (before the move) raises, once, with the raise time A would have
 * given it.
 */
import { describe, expect, it } from 'vitest';
import { embeddedStateStore } from '../../../../state/keyed/embeddedStateStore.ts';
import { type Enriched, ManualClock, type StateStore } from '../../../../topology/index.ts';
import { reading, thermoRules } from '../../../support/ruleFixtures.ts';
import { type RuleWorker, settleWorkers, startRuleWorker } from '../../../support/ruleRuntime.ts';
import { until } from '../../../support/scriptedSource.ts';

const MIN = 60_000;
const T0 = Date.UTC(2026, 0, 5, 9);
const RULES = thermoRules(`  - { id: silent, kind: absence, severity: major, after: 15m }\n`);

/** Minute `m` of the stream: thermo-1 and thermo-2 every minute, thermo-3 until minute 5. */
function minute(m: number): Enriched[] {
  const devices = ['thermo-1', 'thermo-2', ...(m <= 5 ? ['thermo-3'] : [])];
  return devices.map((d, i) => {
    const r = reading(d, T0 + m * MIN, { temperature: 20 });
    return { ...r, rawRef: { ...r.rawRef, shardId: 's-1', sequenceNumber: String(1_000 + m * 10 + i) } };
  });
}

const startWorker = (store: StateStore, clock: ManualClock) =>
  startRuleWorker(store, clock, { rulesets: () => RULES }, 0);
const settle = (w: RuleWorker) => settleWorkers([w]);

describe('absence rules across a lease move', () => {
  it('raise nothing in the gap the move made; a device silent through the move still raises, once', async () => {
    const clock = new ManualClock(T0);
    const store = embeddedStateStore(clock);
    const a = startWorker(store, clock);
    const a1 = a.source.open({ shardId: 's-1' });
    for (let m = 0; m < 10; m++) {
      a1.send(minute(m), 10);
      await settle(a);
      await clock.advance(MIN);
      await settle(a);
    }
    // A loses the lease at minute 10; its last snapshot goes with the release
    a1.end();
    await until(() => a1.released !== undefined);
    const handover = a1.released!;

    // nobody reads the shard for 15 minutes (T): the devices keep talking into the stream
    await clock.advance(15 * MIN);
    const b = startWorker(store, clock);
    const b1 = b.source.open({ shardId: 's-1', startPosition: handover });
    await until(
      () => (b.runtime.metrics().shards.find((s) => s.shardId === 's-1')?.state?.restoredEntries ?? 0) > 0,
    );
    const emittedAt: number[] = [];
    const note = () => {
      for (const _ of b.events.slice(emittedAt.length)) emittedAt.push(clock.now());
    };
    await settle(b);
    note();
    // B reads the gap's readings, then the stream live
    b1.send([10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24].flatMap(minute), 100);
    await settle(b);
    note();
    for (let m = 25; m < 60; m++) {
      b1.send(minute(m), 10);
      await settle(b);
      await clock.advance(MIN);
      await settle(b);
      note();
    }
    for (const w of [a, b]) {
      w.source.end();
      for (const s of w.source.opened) s.end();
      await w.done;
      expect(w.runtime.error).toBeUndefined();
    }
    expect(a.events).toEqual([]);
    expect(b.events.map((e) => [e.kind, e.episode.target.id, e.at - T0])).toEqual([
      ['raise', 'thermo-3', 20 * MIN],
    ]);
    // not before B has had T to read what the move left behind
    expect(emittedAt[0]).toBeGreaterThanOrEqual(T0 + 40 * MIN);
  });
});
