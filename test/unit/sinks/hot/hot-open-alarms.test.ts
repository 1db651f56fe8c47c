/**
 * The pure parts of the Hot store's open alarms: which state of an episode a batch writes, and the
 * MongoDB documents, filters and upserts (the MongoDB implementation runs against a server only
 * where `MONGODB_URI` is set; these run everywhere).
 */
import { describe, expect, it } from 'vitest';
import { latestEpisodes, openAlarmOf } from '../../../../sinks/hot/hotStore.ts';
import {
  type OpenAlarmDoc,
  openAlarmFilter,
  openAlarmOfDoc,
  openAlarmOps,
} from '../../../../sinks/hot/mongoOpenAlarms.ts';
import type { Episode } from '../../../../topology/index.ts';

const T0 = Date.UTC(2026, 0, 1, 8);

function episode(id: string, seq: number, over: Partial<Episode> = {}): Episode {
  return {
    id,
    ruleId: 'overheat',
    rulesetVersion: 1,
    target: { kind: 'device', id: 'dev-1' },
    productId: 'env-h1',
    customerId: 'cust-1',
    siteId: 'site-1',
    deviceId: 'dev-1',
    severity: 'major',
    status: 'active',
    acknowledged: false,
    latched: true,
    assignee: null,
    shelvedUntil: T0 + 3_600_000,
    openedAt: T0,
    clearedAt: null,
    closedAt: null,
    lastEventSeq: seq,
    updatedAt: T0 + seq,
    flapping: false,
    value: 51.5,
    message: 'too hot',
    ...over,
  };
}

describe('Hot store open alarms', () => {
  it('writes the latest state of each episode in a batch, in episode id order', () => {
    const batch = [episode('b', 2), episode('a', 3), episode('b', 1), episode('a', 1)];
    expect(latestEpisodes(batch).map((e) => [e.id, e.lastEventSeq])).toEqual([
      ['a', 3],
      ['b', 2],
    ]);
  });

  it('upserts MongoDB documents only over an older event number, and reads them back as written', () => {
    const e = episode('ep-1', 4);
    const [op] = openAlarmOps([episode('ep-1', 2), e]);
    const update = (
      op as { updateOne: { filter: unknown; update: { $set: Omit<OpenAlarmDoc, '_id'> }; upsert: boolean } }
    ).updateOne;
    expect(update.filter).toEqual({ _id: 'ep-1', lastEventSeq: { $lt: 4 } });
    expect(update.upsert).toBe(true);
    expect(update.update.$set.severityRank).toBe(3);
    expect(openAlarmOfDoc({ _id: 'ep-1', ...update.update.$set })).toEqual(openAlarmOf(e));
  });

  it('reads a customer’s open alarms from a minimum severity', () => {
    expect(openAlarmFilter({ customerId: 'cust-1', minSeverity: 'minor' })).toEqual({
      closedAt: null,
      customerId: 'cust-1',
      severityRank: { $gte: 2 },
    });
    expect(openAlarmFilter({})).toEqual({ closedAt: null });
  });
});
