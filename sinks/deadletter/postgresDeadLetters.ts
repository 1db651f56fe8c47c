/**
 * Keeps dead letters in `dead_letters`: the original bytes, the node that refused them and why.
 * Idempotent: a replayed dead letter (same stream position, item and node) is not stored twice.
 */
import type { DeadLetter } from '../../topology/index.ts';
import { type SqlClient, valuesList } from '../postgres/sql.ts';

const COLUMNS = 12;
// PostgreSQL allows 65,535 parameters per statement.
const MAX_ROWS_PER_STATEMENT = Math.floor(65_535 / COLUMNS);

/** Stores dead letters in PostgreSQL with one multi-row insert per chunk; replays are skipped. */
export async function writeDeadLetters(client: SqlClient, batch: readonly DeadLetter[]): Promise<void> {
  for (let i = 0; i < batch.length; i += MAX_ROWS_PER_STATEMENT) {
    const chunk = batch.slice(i, i + MAX_ROWS_PER_STATEMENT);
    await client.query(
      `INSERT INTO dead_letters (node, reason, stream, shard_id, sequence_number, sub_sequence_number, payload, failed_at, code, spec_id, spec_version, item)
       VALUES ${valuesList(chunk.length, COLUMNS)}
       ON CONFLICT (stream, shard_id, sequence_number, sub_sequence_number, item, node) DO NOTHING`,
      chunk.flatMap((d) => [
        d.node,
        d.reason,
        d.stream,
        d.shardId,
        d.sequenceNumber,
        d.subSequenceNumber ?? 0,
        Buffer.from(d.payloadBase64, 'base64'),
        new Date(d.failedAt).toISOString(),
        d.code ?? null,
        d.specId ?? null,
        d.specVersion ?? null,
        d.item ?? '',
      ]),
    );
  }
}
