/**
 * People's actions through the worker's real graph (decode → enrich → rules → alarm-events): an
 * alarm action record on the stream, keyed as the device's readings, reaches the rule operator in its
 * place among them and acts on the episode in its keyed state. A latched alarm that cleared is
 * acknowledged and closes; the same action delivered again makes nothing; the device's next raise is a
 * new episode; the same stream cut into other batches gives the same events.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { memoryDeadLetters, memoryHot } from '../../../bench/harness/memoryStores.ts';
import { rulesStage } from '../../../cli/rulesStage.ts';
import { buildTelemetryTopology } from '../../../cli/telemetryTopology.ts';
import { BUNDLED_SPECS } from '../../../cli/worker.ts';
import { SpecRegistry } from '../../../operators/decode/registry.ts';
import { decodeBySpec } from '../../../operators/decodeBySpec.ts';
import { memoryDeviceDirectory } from '../../../operators/enrich/directory.ts';
import { enrich, enrichConfigSchema } from '../../../operators/enrich.ts';
import { rulesSectionSchema } from '../../../operators/rules/config.ts';
import { windowAggregate, windowAggregateConfigSchema } from '../../../operators/windows/index.ts';
import { hotAggregateSink } from '../../../sinks/hot/hotAggregateSink.ts';
import { hotTelemetrySink } from '../../../sinks/hot/hotTelemetrySink.ts';
import { embeddedStateStore } from '../../../state/keyed/embeddedStateStore.ts';
import {
  type AlarmEvent,
  type Episode,
  encodeAlarmAction,
  ManualClock,
  MemorySource,
  type PersonAction,
  type Position,
  type RawRecord,
  type StateStore,
  silentLogger,
  TopologyTestDriver,
} from '../../../topology/index.ts';
import { rawRecord } from '../../support/records.ts';

const NOW = Date.UTC(2026, 11, 7, 12, 0, 0);
const SHARD = 'shardId-000000000000';
const RULESET = `id: thermo-hot\nproductId: thermo-t1\nversion: 1\nrules:\n  - { id: hot, kind: threshold, severity: major, latched: true, when: { metric: temperature, op: ">", value: 30 } }\n`;

function rulesDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'shardflow-actions-'));
  writeFileSync(join(dir, 'hot.yaml'), RULESET);
  return dir;
}

let seq = 5000;
/** A thermo-t1 reading of d1 at `at`, keyed by the device. */
const readingRecord = (at: number, temperature: number): RawRecord =>
  rawRecord(
    JSON.stringify({
      v: 1,
      protocol: 'mqtt',
      topic: 'devices/d1/telemetry',
      receivedAt: at,
      productId: 'thermo-t1',
      encoding: 'utf8',
      payload: JSON.stringify({ device_id: 'd1', ts: at, metrics: { temperature } }),
    }),
    { shardId: SHARD, sequenceNumber: String(++seq), partitionKey: 'd1', arrivedAt: at },
  );

/** An alarm action record on `episode`, keyed as the device's readings. */
const actionRecord = (episode: Episode, actionId: string, action: PersonAction): RawRecord =>
  rawRecord(
    encodeAlarmAction({
      actionId,
      episodeId: episode.id,
      ruleId: episode.ruleId,
      target: episode.target,
      deviceId: episode.deviceId!,
      action,
    }),
    { shardId: SHARD, sequenceNumber: String(++seq), partitionKey: 'd1', arrivedAt: NOW },
  );

/** The worker's graph with the rules stage; `batches` sent in order, one driver batch each. */
async function run(
  batches: readonly (readonly RawRecord[])[],
  stateStore: StateStore = embeddedStateStore(),
  positionOf?: (r: RawRecord) => Position,
) {
  const hot = memoryHot();
  const deadLetters = memoryDeadLetters();
  const specs = new SpecRegistry(BUNDLED_SPECS);
  specs.load();
  const operator = rulesStage(
    rulesSectionSchema.parse({ dir: rulesDir(), allowedOutOfOrdernessMs: 0 }),
    BUNDLED_SPECS,
    { log: silentLogger },
  );
  const telemetry = buildTelemetryTopology('telemetry', {
    source: new MemorySource<RawRecord>(positionOf === undefined ? {} : { positionOf }),
    decode: decodeBySpec(specs),
    enrich: enrich(
      enrichConfigSchema.parse({}),
      memoryDeviceDirectory(
        new Map([['d1', [{ from: 0, to: Number.POSITIVE_INFINITY, siteId: 's1', customerId: 'c1' }]]]),
      ),
    ),
    windows: windowAggregate(windowAggregateConfigSchema.parse({})),
    hotTelemetry: hotTelemetrySink(hot),
    hotAggregates: hotAggregateSink(hot),
    dailyAggregates: hotAggregateSink(hot),
    deadLetters: deadLetters.sink,
    rules: { operator, alarms: { type: 'alarm-events', write: async () => {} } },
  });
  const driver = new TopologyTestDriver(telemetry.topology, {
    clock: new ManualClock(NOW),
    stateStore,
  });
  for (const batch of batches) driver.send(telemetry.records, SHARD, [...batch]);
  await driver.settle();
  const events: readonly AlarmEvent[] = driver.output(telemetry.alarmEvents!);
  const dead = driver.output(telemetry.deadLetters);
  const readings = driver.output(telemetry.hotTelemetry).length;
  await driver.close();
  return { events, dead, readings, counters: { ...operator.counters } };
}

const kinds = (events: readonly AlarmEvent[]) =>
  events.map((e) => `${e.episodeId.slice(0, 6)}/${e.seq} ${e.kind}`);

describe("people's actions on the stream, in the rule operator", () => {
  it('acknowledges a cleared latched alarm in the operator: it closes, a second delivery makes nothing, the next raise is a new episode', async () => {
    // the raise and the clear first, to learn the episode as the command would read it from Warm
    const first = [readingRecord(NOW, 35), readingRecord(NOW + 60_000, 20)];
    const before = await run([first]);
    expect(before.events.map((e) => e.kind)).toEqual(['raise', 'clear', 'latch']);
    const episode = before.events.at(-1)!.episode;
    expect(episode.latched && episode.closedAt === null).toBe(true);

    const acknowledge = { kind: 'acknowledge', at: NOW + 120_000, by: 'ops' } as const;
    // the same action put twice (a put retried): two stream records, one action id
    const records = [
      ...first,
      actionRecord(episode, 'a-1', acknowledge),
      actionRecord(episode, 'a-1', acknowledge),
      readingRecord(NOW + 180_000, 36),
    ];
    const after = await run(records.map((r) => [r]));
    const ackEvents = after.events.slice(3, 5);
    expect(ackEvents.map((e) => [e.kind, e.seq, e.by])).toEqual([
      ['acknowledge', 4, 'ops'],
      ['close', 5, 'ops'],
    ]);
    expect(ackEvents[1]!.episode.closedAt).toBe(NOW + 120_000);
    // the redelivered action made nothing; the device's next raise is a new episode, numbered from 1
    expect(after.events).toHaveLength(6);
    const next = after.events[5]!;
    expect([next.kind, next.seq]).toEqual(['raise', 1]);
    expect(next.episodeId).not.toBe(episode.id);
    expect(after.counters).toMatchObject({ actionsApplied: 1, actionsRefused: 1 });
    // the action is neither a reading nor a dead letter
    expect(after.readings).toBe(3);
    expect(after.dead).toEqual([]);

    // the same stream in one batch, or cut elsewhere: the same events, ids and content
    const whole = await run([records]);
    expect(whole.events).toEqual(after.events);
    const cut = await run([records.slice(0, 3), records.slice(3)]);
    expect(cut.events).toEqual(after.events);
    expect(kinds(cut.events)).toEqual(kinds(after.events));

    // a worker that stops after the acknowledgement, and a successor that reads the stream again from
    // its start on the state it left: what the state holds is not applied again, the redelivered
    // action is refused as applied already, and the next raise is the same new episode
    const store = embeddedStateStore();
    // the memory source numbers a shard's records from 1, as they are in `records`
    const positionOf = (r: RawRecord): Position => ({
      sequenceNumber: String(records.indexOf(r) + 1),
      subSequenceNumber: 0,
    });
    const stopped = await run([records.slice(0, 3)], store, positionOf);
    expect(stopped.events).toEqual(after.events.slice(0, 5));
    const successor = await run([records], store, positionOf);
    expect(successor.events).toEqual(after.events.slice(5));
    expect(successor.counters).toMatchObject({ actionsApplied: 0, actionsRefused: 1 });
  });

  it('refuses an action on an episode the operator does not hold, and dead-letters a malformed action record with its reason', async () => {
    const raised = await run([[readingRecord(NOW, 35)]]);
    const episode = raised.events[0]!.episode;
    const stranger = { ...episode, id: 'f'.repeat(32) };
    const broken = rawRecord('{"type":"alarm-action","v":1,"actionId":"x"}', {
      shardId: SHARD,
      sequenceNumber: String(++seq),
      partitionKey: 'd1',
    });
    const result = await run([
      [
        readingRecord(NOW, 35),
        actionRecord(stranger, 'a-2', { kind: 'comment', at: NOW + 1000, by: 'ops', text: 'hm' }),
        actionRecord(episode, 'a-3', { kind: 'shelve', at: NOW + 1000, by: 'ops', until: NOW + 3_600_000 }),
        broken,
      ],
    ]);
    expect(result.events.map((e) => e.kind)).toEqual(['raise', 'shelve']);
    expect(result.events[1]!.episode.shelvedUntil).toBe(NOW + 3_600_000);
    expect(result.counters).toMatchObject({ actionsApplied: 1, actionsRefused: 1 });
    expect(result.dead.map((d) => [d.node, d.code])).toEqual([['decode', 'invalid-alarm-action']]);
    expect(result.dead[0]!.reason).toMatch(/episodeId is not an id/);
  });
});
