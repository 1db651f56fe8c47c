/**
 * Writes joined telemetry to the Hot store: the recent records and each device's latest state. An
 * on-write sink: `write` resolves only after the store acknowledged the batch, so the runtime may
 * checkpoint it. Retention is enforced from here too, at most once an hour on the injected clock.
 */
import type { Enriched, Sink } from '../../topology/index.ts';
import type { HotStore } from './hotStore.ts';

const EXPIRE_EVERY_MS = 3_600_000;

/** The Hot store's telemetry sink (recent telemetry and latest device state). */
export function hotTelemetrySink(store: HotStore): Sink<Enriched> {
  let expiredAt: number | undefined;
  return {
    type: `hot-telemetry-${store.kind}`,
    stores: [
      { name: 'hot.telemetry', kind: store.kind },
      { name: 'hot.device_state', kind: store.kind },
    ],
    durability: 'on-write',
    // upserts by natural key: any part of a batch can be written on its own
    rejects: 'isolate',
    async write(batch, ctx) {
      const now = ctx.clock.now();
      if (expiredAt === undefined || now - expiredAt >= EXPIRE_EVERY_MS) {
        await store.expire(now);
        expiredAt = now;
      }
      if (batch.length > 0) await store.writeTelemetry(batch, now);
    },
  };
}
