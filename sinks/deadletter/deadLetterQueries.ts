/**
 * Reads of `dead_letters` for the operator commands (`dlq list|show|replay`), on the Warm store's
 * read endpoint, and the one write they make on the write endpoint: marking rows replayed, so a
 * replay never puts the same record back twice unless asked to.
 */
import type { IngestEnvelope } from '../../topology/index.ts';
import type { SqlClient } from '../postgres/sql.ts';

/** One stored dead letter. */
export interface StoredDeadLetter {
  readonly id: string;
  readonly node: string;
  readonly reason: string;
  readonly code: string | null;
  readonly specId: string | null;
  readonly specVersion: number | null;
  /** The spec id, or the envelope's `productId` when no spec matched; null for a bare payload. */
  readonly product: string | null;
  readonly stream: string;
  readonly shardId: string;
  readonly sequenceNumber: string;
  readonly subSequenceNumber: number;
  /** The original record bytes, ingest envelope included. */
  readonly payload: Buffer;
  readonly failedAt: Date;
  readonly replayedAt: Date | null;
}

/** Which dead letters to read; every condition given must hold. */
export interface DeadLetterFilter {
  readonly code?: string;
  readonly product?: string;
  /** Failed at or after this time. */
  readonly since?: Date;
  /** Only dead letters of this node (`decode` for the decode stage). */
  readonly node?: string;
  /** Only rows not yet replayed. */
  readonly pending?: boolean;
  /** At most this many rows; all when absent. */
  readonly limit?: number;
}

interface Row {
  id: string;
  node: string;
  reason: string;
  code: string | null;
  spec_id: string | null;
  spec_version: number | null;
  stream: string;
  shard_id: string;
  sequence_number: string;
  sub_sequence_number: number;
  payload: Uint8Array;
  failed_at: Date | string;
  replayed_at: Date | string | null;
}

const SELECT = `SELECT id::text AS id, node, reason, code, spec_id, spec_version, stream, shard_id,
  sequence_number, sub_sequence_number, payload, failed_at, replayed_at FROM dead_letters`;
const PAGE = 500;
const OPEN_BRACE = 0x7b;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The ingest envelope a payload is, or undefined when it is a bare device payload. */
export function envelopeOf(payload: Uint8Array): IngestEnvelope | undefined {
  if (payload.length === 0 || payload[0] !== OPEN_BRACE) return undefined;
  try {
    const parsed = JSON.parse(utf8.decode(payload)) as Partial<IngestEnvelope> | null;
    if (parsed === null || typeof parsed !== 'object' || parsed.v !== 1 || typeof parsed.payload !== 'string')
      return undefined;
    return parsed as IngestEnvelope;
  } catch {
    return undefined;
  }
}

function toStored(r: Row): StoredDeadLetter {
  const payload = Buffer.from(r.payload);
  const productId = r.spec_id ?? envelopeOf(payload)?.productId;
  return {
    id: r.id,
    node: r.node,
    reason: r.reason,
    code: r.code,
    specId: r.spec_id,
    specVersion: r.spec_version === null ? null : Number(r.spec_version),
    product: typeof productId === 'string' ? productId : null,
    stream: r.stream,
    shardId: r.shard_id,
    sequenceNumber: r.sequence_number,
    subSequenceNumber: Number(r.sub_sequence_number),
    payload,
    failedAt: new Date(r.failed_at),
    replayedAt: r.replayed_at === null ? null : new Date(r.replayed_at),
  };
}

/**
 * Dead letters matching `filter`, newest first. The product of a row without a spec lives only in
 * its envelope, so such rows are matched here rather than in SQL, reading page by page.
 */
export async function listDeadLetters(
  client: SqlClient,
  filter: DeadLetterFilter,
): Promise<StoredDeadLetter[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  const param = (value: unknown) => {
    params.push(value);
    return `$${params.length}`;
  };
  if (filter.code !== undefined) where.push(`code = ${param(filter.code)}`);
  if (filter.since !== undefined) where.push(`failed_at >= ${param(filter.since.toISOString())}`);
  if (filter.node !== undefined) where.push(`node = ${param(filter.node)}`);
  if (filter.pending) where.push('replayed_at IS NULL');
  if (filter.product !== undefined) where.push(`(spec_id = ${param(filter.product)} OR spec_id IS NULL)`);

  const limit = filter.limit ?? Number.POSITIVE_INFINITY;
  const out: StoredDeadLetter[] = [];
  let after: { failedAt: string; id: string } | undefined;
  while (out.length < limit) {
    const page = [...where];
    const pageParams = [...params];
    if (after !== undefined) {
      pageParams.push(after.failedAt, after.id);
      page.push(`(failed_at, id) < ($${pageParams.length - 1}::timestamptz, $${pageParams.length}::bigint)`);
    }
    const { rows } = await client.query<Row>(
      `${SELECT}${page.length > 0 ? ` WHERE ${page.join(' AND ')}` : ''} ORDER BY failed_at DESC, id DESC LIMIT ${PAGE}`,
      pageParams,
    );
    for (const row of rows) {
      const stored = toStored(row);
      if (filter.product === undefined || stored.product === filter.product) out.push(stored);
      if (out.length >= limit) break;
    }
    if (rows.length < PAGE) break;
    const last = rows[rows.length - 1]!;
    after = { failedAt: new Date(last.failed_at).toISOString(), id: last.id };
  }
  return out;
}

/** One dead letter by id, or undefined when there is none. */
export async function getDeadLetter(client: SqlClient, id: string): Promise<StoredDeadLetter | undefined> {
  const { rows } = await client.query<Row>(`${SELECT} WHERE id = $1::bigint`, [id]);
  return rows[0] === undefined ? undefined : toStored(rows[0]);
}

/** Marks dead letters replayed at `at`; returns how many rows it marked. */
export async function markReplayed(client: SqlClient, ids: readonly string[], at: Date): Promise<number> {
  if (ids.length === 0) return 0;
  const { rows } = await client.query<{ id: string }>(
    'UPDATE dead_letters SET replayed_at = $2 WHERE id = ANY($1::bigint[]) RETURNING id::text AS id',
    [ids, at.toISOString()],
  );
  return rows.length;
}
