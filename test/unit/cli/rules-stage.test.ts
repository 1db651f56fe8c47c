/**
 * The worker's rules stage: the `rules:` section, rulesets loaded and checked when the worker starts
 * (a bad file stops it with its file and line, the highest version of a product is in force), and the
 * rules branch of the real graph (decode → enrich → rules → alarm-events) on a simulated fleet.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { memoryDeadLetters, memoryHot } from '../../../bench/harness/memoryStores.ts';
import { ConfigError, parseWorkerConfig } from '../../../cli/config.ts';
import { loadRulesetsInForce, rulesStage } from '../../../cli/rulesStage.ts';
import { buildTelemetryTopology } from '../../../cli/telemetryTopology.ts';
import { BUNDLED_SPECS } from '../../../cli/worker.ts';
import { simulatedFleet } from '../../../gateways/simulator/fleet.ts';
import { SpecRegistry } from '../../../operators/decode/registry.ts';
import { decodeBySpec } from '../../../operators/decodeBySpec.ts';
import { type DevicePlacement, memoryDeviceDirectory } from '../../../operators/enrich/directory.ts';
import { enrich, enrichConfigSchema } from '../../../operators/enrich.ts';
import { rulesSectionSchema } from '../../../operators/rules/config.ts';
import { windowAggregate, windowAggregateConfigSchema } from '../../../operators/windows/index.ts';
import { hotAggregateSink } from '../../../sinks/hot/hotAggregateSink.ts';
import { hotTelemetrySink } from '../../../sinks/hot/hotTelemetrySink.ts';
import { embeddedStateStore } from '../../../state/keyed/embeddedStateStore.ts';
import {
  type AlarmEvent,
  ManualClock,
  MemorySource,
  type RawRecord,
  silentLogger,
  TopologyTestDriver,
} from '../../../topology/index.ts';
import { rawRecord } from '../../support/records.ts';

const NOW = Date.UTC(2026, 11, 7, 12, 0, 0);

/** A directory holding the given ruleset files. */
function rulesDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'shardflow-rules-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

const warmRuleset = (version: number, above: number) =>
  `id: thermo-warm\nproductId: thermo-t1\nversion: ${version}\nrules:\n  - { id: warm, kind: threshold, severity: minor, when: { metric: temperature, op: ">", value: ${above} } }\n`;

describe("the worker's rules stage", () => {
  it('takes the highest version of each product, and the examples directory loads', () => {
    const dir = rulesDir({
      'a.yaml': warmRuleset(1, 10),
      'b.yaml': warmRuleset(3, 20),
      'c.yaml': warmRuleset(2, 30),
    });
    const rulesets = loadRulesetsInForce(rulesSectionSchema.parse({ dir }), BUNDLED_SPECS);
    expect([...rulesets.keys()]).toEqual(['thermo-t1']);
    expect(rulesets.get('thermo-t1')!.version).toBe(3);
    const examples = loadRulesetsInForce(
      rulesSectionSchema.parse({ dir: 'specs/examples/rules' }),
      BUNDLED_SPECS,
    );
    expect(examples.size).toBeGreaterThan(0);
  });

  it('refuses a bad ruleset at start with its file, line and reason', () => {
    const dir = rulesDir({
      'bad.yaml': `id: bad\nproductId: thermo-t1\nversion: 1\nrules:\n  - { id: r, kind: threshold, severity: minor, when: { metric: pressure, op: ">", value: 1 } }\n`,
    });
    let error: unknown;
    try {
      loadRulesetsInForce(rulesSectionSchema.parse({ dir }), BUNDLED_SPECS);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems.join('\n')).toMatch(/rules\.dir: .*bad\.yaml:5 .*pressure/);
  });

  it('validates the rules: section by its key', () => {
    expect(() =>
      parseWorkerConfig(
        {
          source: { kinesis: { streamName: 's' } },
          warm: { writeUrl: 'postgres://h/db' },
          rules: { dir: 'x', onDelay: 1 },
        },
        {},
      ),
    ).toThrow(/rules\.onDelay: unknown key/);
    const config = parseWorkerConfig(
      {
        source: { kinesis: { streamName: 's' } },
        warm: { writeUrl: 'postgres://h/db' },
        rules: { dir: 'x' },
      },
      {},
    );
    expect(config.rules).toEqual({
      dir: 'x',
      allowedOutOfOrdernessMs: 300_000,
      absenceMaxLagMs: 60_000,
      siteZonesRefreshMs: 60_000,
    });
  });

  it('runs the rules after enrich in the real graph: one raise per warm thermo-t1 device', async () => {
    const fleet = simulatedFleet({ devices: 30, seed: 5 });
    const placements = new Map<string, readonly DevicePlacement[]>(
      fleet.devices.map((d) => [
        d.deviceId,
        [{ from: 0, to: Number.POSITIVE_INFINITY, siteId: d.siteId, customerId: d.customerId }],
      ]),
    );
    const hot = memoryHot();
    const specs = new SpecRegistry(BUNDLED_SPECS);
    specs.load();
    const dir = rulesDir({ 'warm.yaml': warmRuleset(1, -100) });
    const telemetry = buildTelemetryTopology('telemetry', {
      source: new MemorySource<RawRecord>(),
      decode: decodeBySpec(specs),
      enrich: enrich(enrichConfigSchema.parse({}), memoryDeviceDirectory(placements)),
      windows: windowAggregate(windowAggregateConfigSchema.parse({})),
      hotTelemetry: hotTelemetrySink(hot),
      hotAggregates: hotAggregateSink(hot),
      dailyAggregates: hotAggregateSink(hot),
      deadLetters: memoryDeadLetters().sink,
      rules: {
        operator: rulesStage(rulesSectionSchema.parse({ dir }), BUNDLED_SPECS, { log: silentLogger }),
        alarms: { type: 'alarm-events', write: async () => {} },
      },
    });
    const description = telemetry.topology.describe();
    expect(description.nodes.map((n) => n.name)).toEqual(expect.arrayContaining(['rules', 'alarm-events']));
    // the rule operator reads enrich's `rules` output (readings and people's actions in stream order)
    expect(description.edges.filter((e) => e.to === 'rules')).toEqual([
      expect.objectContaining({ from: 'enrich', port: 'rules' }),
    ]);
    const clock = new ManualClock(NOW);
    const driver = new TopologyTestDriver(telemetry.topology, { clock, stateStore: embeddedStateStore() });
    fleet.batch(NOW, 300).forEach((envelope, i) => {
      const shardId = `shardId-00000000000${i % 2}`;
      driver.send(telemetry.records, shardId, [
        rawRecord(JSON.stringify(envelope), {
          shardId,
          sequenceNumber: String(1000 + i),
          partitionKey: envelope.topic ?? 'k',
          arrivedAt: NOW,
        }),
      ]);
    });
    await driver.settle();
    const events: readonly AlarmEvent[] = driver.output(telemetry.alarmEvents!);
    const thermo = new Set(
      driver
        .output(telemetry.hotTelemetry)
        .filter((r) => r.productId === 'thermo-t1' && typeof r.metrics.temperature === 'number')
        .map((r) => r.device_id),
    );
    expect(thermo.size).toBeGreaterThan(0);
    expect(events.map((e) => e.kind).every((k) => k === 'raise')).toBe(true);
    expect(new Set(events.map((e) => e.episode.deviceId))).toEqual(thermo);
    expect(events.length).toBe(thermo.size);
    expect(events.every((e) => e.episode.customerId !== null)).toBe(true);
    await driver.close();
  });
});
