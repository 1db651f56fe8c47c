/**
 * Adds per-product hourly count partials into `product_hourly_counts`, one multi-row upsert per
 * batch. Counting is not idempotent, so each shard's last applied position is kept in
 * `sink_progress` in the same transaction, and a batch at or below it (a replay) changes nothing.
 *
 * Limit: the check is per batch. A replayed batch that straddles the stored position (cut at other
 * record boundaries than the first time) would count its older part twice; the windowed aggregation
 * stage filters per record.
 */
import { comparePositions, type ProductHourCount, type Sink } from '../../topology/index.ts';
import type { SqlClient } from './sql.ts';
import { valuesList } from './sql.ts';

// 3 parameters per row; PostgreSQL allows 65,535 parameters per statement.
const MAX_ROWS_PER_STATEMENT = 10_000;

function mergePartials(batch: readonly ProductHourCount[]): ProductHourCount[] {
  const merged = new Map<string, { productId: string; hourStart: number; count: number }>();
  for (const p of batch) {
    const key = `${p.productId}\u0000${p.hourStart}`;
    const current = merged.get(key);
    if (current) current.count += p.count;
    else merged.set(key, { ...p });
  }
  // in key order: two shards' upserts of the same rows lock them in the same order (no deadlock)
  return [...merged.keys()].sort().map((key) => merged.get(key)!);
}

/** Writes hourly count partials to PostgreSQL, exactly once per shard position. */
export function hourlyCountSink(client: SqlClient): Sink<ProductHourCount> {
  return {
    type: 'postgres-hourly-counts',
    stores: [
      { name: 'warm.product_hourly_counts', kind: 'postgresql' },
      { name: 'warm.sink_progress', kind: 'postgresql' },
    ],
    write: (batch, ctx) =>
      client.transaction(async (tx) => {
        const { rows } = await tx.query<{ seq: string; sub: number }>(
          'SELECT sequence_number::text AS seq, sub_sequence_number AS sub FROM sink_progress WHERE sink = $1 AND shard_id = $2 FOR UPDATE',
          [ctx.node, ctx.shardId],
        );
        const applied = rows[0];
        if (
          applied &&
          comparePositions(ctx.position, { sequenceNumber: applied.seq, subSequenceNumber: applied.sub }) <= 0
        ) {
          return;
        }
        const partials = mergePartials(batch);
        for (let i = 0; i < partials.length; i += MAX_ROWS_PER_STATEMENT) {
          const chunk = partials.slice(i, i + MAX_ROWS_PER_STATEMENT);
          await tx.query(
            `INSERT INTO product_hourly_counts (product_id, hour_start, record_count) VALUES ${valuesList(chunk.length, 3)}
             ON CONFLICT (product_id, hour_start) DO UPDATE
               SET record_count = product_hourly_counts.record_count + EXCLUDED.record_count, updated_at = now()`,
            chunk.flatMap((p) => [p.productId, new Date(p.hourStart).toISOString(), p.count]),
          );
        }
        await tx.query(
          `INSERT INTO sink_progress (sink, shard_id, sequence_number, sub_sequence_number) VALUES ($1, $2, $3, $4)
           ON CONFLICT (sink, shard_id) DO UPDATE
             SET sequence_number = EXCLUDED.sequence_number, sub_sequence_number = EXCLUDED.sub_sequence_number, updated_at = now()`,
          [ctx.node, ctx.shardId, ctx.position.sequenceNumber, ctx.position.subSequenceNumber],
        );
      }),
  };
}
