/**
 * Recognising a record's spec through the device registry (`match.registry`): consulted with the
 * device id of the record's topic only when no spec's own conditions hold.
 */
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SpecRegistry } from '../../../../operators/decode/registry.ts';
import { type DeviceRegistry, decodeBySpec } from '../../../../operators/decodeBySpec.ts';
import { parseSpec } from '../../../../specs/loader.ts';
import {
  type DeadLetter,
  ManualClock,
  MemorySource,
  type RawRecord,
  type Telemetry,
  TopologyBuilder,
  TopologyTestDriver,
} from '../../../../topology/index.ts';
import { enveloped } from './fixtures.ts';

const NOW = Date.UTC(2026, 10, 22, 9, 31, 0);

/** A product recognised only through the registry: JSON readings with no productId on the wire. */
const REGISTRY_SPEC = `
id: valve-v7
version: 1
productId: valve-v7
match: { registry: true }
format:
  type: json
  fields: { ts: ts, position: position }
telemetry:
  deviceId: { from: topic }
  hubId: { from: topic, part: hub }
  timestamp: { field: ts, kind: epoch-ms }
contract:
  metrics:
    position: { type: number, required: true, min: 0, max: 100 }
`;

function specs(): SpecRegistry {
  const dir = mkdtempSync(join(tmpdir(), 'shardflow-registry-'));
  writeFileSync(join(dir, 'valve-v7.yaml'), REGISTRY_SPEC);
  copyFileSync('specs/examples/thermo-t1.yaml', join(dir, 'thermo-t1.yaml'));
  const registry = new SpecRegistry(dir);
  expect(registry.load()).toEqual([]);
  return registry;
}

/** The registry snapshot the wiring keeps current, here a fixed map; it records every lookup. */
function devices(products: Record<string, string>): DeviceRegistry & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    productOf(deviceId) {
      asked.push(deviceId);
      return products[deviceId];
    },
  };
}

async function decode(
  registry: SpecRegistry,
  records: RawRecord[],
  known?: DeviceRegistry,
): Promise<{ telemetry: readonly Telemetry[]; dead: readonly DeadLetter[] }> {
  const b = new TopologyBuilder('decode');
  const input = b.source('input', new MemorySource<RawRecord>());
  const decoded = input.via('decode', decodeBySpec(registry, known ? { devices: known } : {}));
  const out = decoded.to('out', { type: 'none', write: async () => {} });
  const dlq = decoded.side('dlq').to('dlq', { type: 'none', write: async () => {} });
  const driver = new TopologyTestDriver(b.build(), { clock: new ManualClock(NOW) });
  driver.send(input, 's', records);
  await driver.settle();
  const result = { telemetry: [...driver.output(out)], dead: [...driver.output(dlq)] };
  await driver.close();
  return result;
}

const reading = (topic: string, position = 42) =>
  enveloped({ topic, payload: JSON.stringify({ ts: NOW - 1000, position }) }, NOW);

describe('matching by the device registry', () => {
  it('decodes a record whose device the registry names as the product of a registry spec', async () => {
    const known = devices({ 'vlv-1': 'valve-v7', 'vlv-2': 'valve-v7' });
    const { telemetry, dead } = await decode(
      specs(),
      [reading('devices/vlv-1/telemetry'), reading('devices/gw-3/child/vlv-2/telemetry', 7)],
      known,
    );
    expect(dead).toEqual([]);
    expect(telemetry.map((t) => [t.productId, t.device_id, t.hub_id, t.metrics, t.rawRef.specId])).toEqual([
      ['valve-v7', 'vlv-1', undefined, { position: 42 }, 'valve-v7'],
      ['valve-v7', 'vlv-2', 'gw-3', { position: 7 }, 'valve-v7'],
    ]);
    // a child topic's device is the child, not the hub
    expect(known.asked).toEqual(['vlv-1', 'vlv-2']);
  });

  it('asks the registry only when no spec’s own conditions hold', async () => {
    const known = devices({ 'dev-1': 'valve-v7' });
    const thermo = enveloped(
      {
        productId: 'thermo-t1',
        topic: 'devices/dev-1/telemetry',
        payload: JSON.stringify({ device_id: 'dev-1', ts: NOW - 1000, metrics: { temperature: 20 } }),
      },
      NOW,
    );
    const { telemetry } = await decode(specs(), [thermo], known);
    expect(telemetry.map((t) => t.productId)).toEqual(['thermo-t1']);
    expect(known.asked).toEqual([]);
  });

  it('dead-letters as no-spec a device the registry does not know, another product, or no registry at all', async () => {
    const registry = specs();
    const known = devices({ 'vlv-1': 'valve-v7', 'pump-1': 'pump-p2' });
    const { telemetry, dead } = await decode(
      registry,
      [
        reading('devices/stranger/telemetry'),
        reading('devices/pump-1/telemetry'),
        reading('plant/vlv-1/status'), // not a platform topic: no device id to ask about
      ],
      known,
    );
    expect(telemetry).toEqual([]);
    expect(dead.map((d) => d.code)).toEqual(['no-spec', 'no-spec', 'no-spec']);
    expect(known.asked).toEqual(['stranger', 'pump-1']);

    const without = await decode(registry, [reading('devices/vlv-1/telemetry')]);
    expect(without.dead.map((d) => d.code)).toEqual(['no-spec']);
  });

  it('applies the registry spec’s contract like any other', async () => {
    const { dead } = await decode(
      specs(),
      [reading('devices/vlv-1/telemetry', 140)],
      devices({ 'vlv-1': 'valve-v7' }),
    );
    expect(dead.map((d) => [d.code, d.specId])).toEqual([['contract-range', 'valve-v7']]);
  });

  it('accepts registry as the only match condition, and refuses a match with none', () => {
    expect(parseSpec('valve.yaml', REGISTRY_SPEC).problems).toEqual([]);
    const none = parseSpec('valve.yaml', REGISTRY_SPEC.replace('match: { registry: true }', 'match: {}'));
    expect(none.problems[0]?.message).toContain('registry');
  });
});
