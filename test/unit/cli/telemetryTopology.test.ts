/**
 * The worker's real graph (`buildTelemetryTopology`) with its real operators, run whole in the test
 * driver with no servers: the bundled specs decode a simulated fleet's envelopes, enrich places each
 * device from an in-memory directory, the windows keep their state in the embedded backend, and the
 * driver captures what reaches each sink. Every record is accounted for at the sinks, and the
 * customer of each joined record is the one the master data gives.
 */
import { describe, expect, it } from 'vitest';
import { memoryDeadLetters, memoryHot } from '../../../bench/harness/memoryStores.ts';
import { buildTelemetryTopology } from '../../../cli/telemetryTopology.ts';
import { BUNDLED_SPECS } from '../../../cli/worker.ts';
import { simulatedFleet } from '../../../gateways/simulator/fleet.ts';
import { SpecRegistry } from '../../../operators/decode/registry.ts';
import { decodeBySpec } from '../../../operators/decodeBySpec.ts';
import { type DevicePlacement, memoryDeviceDirectory } from '../../../operators/enrich/directory.ts';
import { enrich, enrichConfigSchema } from '../../../operators/enrich.ts';
import { windowAggregate, windowAggregateConfigSchema } from '../../../operators/windows/index.ts';
import { hotAggregateSink } from '../../../sinks/hot/hotAggregateSink.ts';
import { hotTelemetrySink } from '../../../sinks/hot/hotTelemetrySink.ts';
import { embeddedStateStore } from '../../../state/keyed/embeddedStateStore.ts';
import {
  ManualClock,
  MemorySource,
  type RawRecord,
  TopologyTestDriver,
  type WindowAggregate,
} from '../../../topology/index.ts';
import { rawRecord } from '../../support/records.ts';

const NOW = Date.UTC(2026, 11, 6, 12, 0, 0);

describe("the worker's telemetry topology in the test driver", () => {
  it('decodes, enriches, aggregates and dead-letters a simulated fleet, every record accounted for', async () => {
    const fleet = simulatedFleet({ devices: 40, seed: 3, malformedFraction: 0.1 });
    const placements = new Map<string, readonly DevicePlacement[]>(
      fleet.devices.map((d) => [
        d.deviceId,
        [{ from: 0, to: Number.POSITIVE_INFINITY, siteId: d.siteId, customerId: d.customerId }],
      ]),
    );
    const hot = memoryHot();
    const specs = new SpecRegistry(BUNDLED_SPECS);
    specs.load();
    const telemetry = buildTelemetryTopology('telemetry', {
      source: new MemorySource<RawRecord>(),
      decode: decodeBySpec(specs),
      enrich: enrich(enrichConfigSchema.parse({}), memoryDeviceDirectory(placements)),
      windows: windowAggregate(windowAggregateConfigSchema.parse({})),
      hotTelemetry: hotTelemetrySink(hot),
      hotAggregates: hotAggregateSink(hot),
      dailyAggregates: hotAggregateSink(hot),
      deadLetters: memoryDeadLetters().sink,
    });
    const clock = new ManualClock(NOW);
    const driver = new TopologyTestDriver(telemetry.topology, { clock, stateStore: embeddedStateStore() });

    const envelopes = fleet.batch(NOW, 400);
    envelopes.forEach((envelope, i) => {
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

    const joined = driver.output(telemetry.hotTelemetry);
    const dead = driver.output(telemetry.deadLetters);
    expect(dead.length).toBeGreaterThan(0);
    expect(joined.length + dead.length).toBe(envelopes.length);
    expect(new Set(dead.map((d) => d.code))).toEqual(new Set(['invalid-json', 'no-device-id']));
    const customerOf = new Map(fleet.devices.map((d) => [d.deviceId, d.customerId]));
    for (const record of joined) expect(record.customer_id).toBe(customerOf.get(record.device_id));

    // the product windows' running values go out on their flush interval (10 s by default)
    await clock.advance(11_000);
    await driver.settle();
    // the latest running value of each product hour counts every joined reading of that hour
    const latest = new Map<string, WindowAggregate>();
    for (const a of driver.output(telemetry.hotAggregates)) {
      if (a.scope !== 'product' || a.window !== '1h') continue;
      const key = `${a.productId}/${a.metric}/${a.windowStart}`;
      if ((latest.get(key)?.revision ?? 0) < a.revision) latest.set(key, a);
    }
    expect(latest.size).toBeGreaterThan(0);
    for (const a of latest.values()) {
      const readings = joined.filter(
        (r) =>
          r.productId === a.productId &&
          typeof r.metrics[a.metric] === 'number' &&
          r.device_timestamp >= a.windowStart &&
          r.device_timestamp < a.windowEnd,
      );
      expect([a.productId, a.metric, a.stats.count]).toEqual([a.productId, a.metric, readings.length]);
    }
    await driver.close();
  });
});
