/** The partition key `shardflow alarms` puts an action with: the key of the episode's readings. */
import { describe, expect, it } from 'vitest';
import { actionPartitionKey } from '../../../cli/commands/actionKey.ts';
import type { TelemetryQuery } from '../../../sinks/hot/hotStore.ts';
import type { Enriched, Episode } from '../../../topology/index.ts';
import { enriched } from '../../support/records.ts';

const AT = Date.UTC(2026, 11, 7, 12);

const episode = (target: Episode['target'], deviceId: string | null): Episode => ({
  id: 'e1',
  ruleId: 'r',
  rulesetVersion: 1,
  target,
  productId: 'thermo-t1',
  customerId: null,
  siteId: null,
  deviceId,
  severity: 'major',
  status: 'active',
  acknowledged: false,
  latched: false,
  assignee: null,
  shelvedUntil: null,
  openedAt: AT,
  clearedAt: null,
  closedAt: null,
  lastEventSeq: 1,
  updatedAt: AT,
  flapping: false,
  value: null,
  message: '',
});

/** A Hot store holding `readings`. */
const hot = (readings: readonly Enriched[]) => async (q: TelemetryQuery) =>
  readings.filter(
    (r) => r.device_id === q.deviceId && r.device_timestamp >= q.from && r.device_timestamp < q.to,
  );

describe('the partition key of an alarm action', () => {
  it("is the raising reading's key as the gateways make it: a child in its hub's frames goes by the hub", async () => {
    const child = enriched('child-1', AT);
    const framed: Enriched = {
      ...child,
      hub_id: 'hub-1',
      rawRef: { ...child.rawRef, topic: 'devices/hub-1/telemetry' },
    };
    const target = { kind: 'device', id: 'child-1' } as const;
    expect(await actionPartitionKey(episode(target, 'child-1'), hot([framed]))).toBe('hub-1');
    expect(await actionPartitionKey(episode(target, 'child-1'), hot([child]))).toBe('child-1');
  });

  it("is the target's id without the raising reading, and for a hub", async () => {
    expect(await actionPartitionKey(episode({ kind: 'device', id: 'd-9' }, 'd-9'), hot([]))).toBe('d-9');
    expect(await actionPartitionKey(episode({ kind: 'hub', id: 'hub-2' }, 'hub-2'), hot([]))).toBe('hub-2');
  });
});
