import { describe, expect, it } from 'vitest';
import { countPerProductHour } from '../../../operators/countPerProductHour.ts';
import { ManualClock, type Telemetry } from '../../../topology/index.ts';

const HOUR = 3_600_000;
const t = (productId: string, device_timestamp: number) =>
  ({
    productId,
    device_timestamp,
    device_id: 'd',
    metrics: {},
    ingest_timestamp: 0,
    rawRef: {},
  }) as unknown as Telemetry;

describe('count-per-product-hour', () => {
  it('emits one partial per product and UTC hour of event time for a batch', async () => {
    const op = countPerProductHour();
    const ctx = {
      node: 'count',
      shardId: 's',
      position: { sequenceNumber: '1', subSequenceNumber: 0 },
      clock: new ManualClock(),
      side: () => {},
    };
    const out = await op.process(
      [t('a', 10 * HOUR + 5), t('a', 10 * HOUR + HOUR - 1), t('b', 10 * HOUR), t('a', 11 * HOUR)],
      ctx,
    );
    expect(out).toEqual([
      { productId: 'a', hourStart: 10 * HOUR, count: 2 },
      { productId: 'b', hourStart: 10 * HOUR, count: 1 },
      { productId: 'a', hourStart: 11 * HOUR, count: 1 },
    ]);
  });
});
