/**
 * Sample CDC records as the sources write them to Kinesis: AWS DMS's JSON message format
 * (`data` + `metadata` with `timestamp`, `record-type`, `operation`, `partition-key-type`,
 * `schema-name`, `table-name`, and `transaction-id` for ongoing changes; control records carry
 * only `metadata`) and MongoDB change-stream documents in relaxed extended JSON.
 */
import type { RawRecord } from '../../topology/index.ts';
import { rawRecord } from './records.ts';

/** A DMS data operation. */
export type DmsOperation = 'load' | 'insert' | 'update' | 'delete';

/** DMS timestamp text with microseconds, as DMS writes it (`2024-05-01T10:00:00.123456Z`). */
function dmsTimestamp(epochMs: number, micros = 0): string {
  const iso = new Date(epochMs).toISOString(); // …T10:00:00.123Z
  return `${iso.slice(0, 23)}${String(micros).padStart(3, '0')}Z`;
}

/** One DMS data record. */
export function dmsData(
  schema: string,
  table: string,
  operation: DmsOperation,
  row: Record<string, unknown>,
  at: number,
  extra: { transactionId?: number; beforeImage?: Record<string, unknown> } = {},
): Record<string, unknown> {
  return {
    data: row,
    ...(extra.beforeImage === undefined ? {} : { 'before-image': extra.beforeImage }),
    metadata: {
      timestamp: dmsTimestamp(at),
      'record-type': 'data',
      operation,
      'partition-key-type': operation === 'load' ? 'primary-key' : 'schema-table',
      'schema-name': schema,
      'table-name': table,
      ...(operation === 'load' ? {} : { 'transaction-id': extra.transactionId ?? Math.floor(at / 7) }),
    },
  };
}

/** One DMS control record (e.g. `create-table`, `drop-table`). */
export function dmsControl(
  schema: string,
  table: string,
  operation: string,
  at: number,
): Record<string, unknown> {
  return {
    metadata: {
      timestamp: dmsTimestamp(at),
      'record-type': 'control',
      operation,
      'partition-key-type': 'task-id',
      'schema-name': schema,
      'table-name': table,
    },
  };
}

/** One MongoDB change-stream document. */
export function mongoChange(
  db: string,
  coll: string,
  operationType: 'insert' | 'update' | 'replace' | 'delete' | 'drop',
  id: string,
  at: { t: number; i: number },
  body: {
    fullDocument?: Record<string, unknown>;
    updatedFields?: Record<string, unknown>;
    removedFields?: string[];
  } = {},
): Record<string, unknown> {
  return {
    _id: { _data: `82${at.t.toString(16)}${at.i.toString(16)}` },
    operationType,
    clusterTime: { $timestamp: { t: at.t, i: at.i } },
    wallTime: { $date: new Date(at.t * 1000).toISOString() },
    ns: { db, coll },
    ...(operationType === 'drop' ? {} : { documentKey: { _id: id } }),
    ...(body.fullDocument === undefined ? {} : { fullDocument: { _id: id, ...body.fullDocument } }),
    ...(body.updatedFields === undefined && body.removedFields === undefined
      ? {}
      : {
          updateDescription: {
            updatedFields: body.updatedFields ?? {},
            removedFields: body.removedFields ?? [],
            truncatedArrays: [],
          },
        }),
  };
}

/** Puts JSON documents on a simulated CDC shard: consecutive sequence numbers from `firstSequence`. */
export function asRawRecords(
  docs: readonly object[],
  shardId = 'shardId-000000000000',
  firstSequence = 1n,
): RawRecord[] {
  return docs.map((doc, i) =>
    rawRecord(JSON.stringify(doc), {
      stream: 'cdc',
      shardId,
      sequenceNumber: (49_000_000_000_000_000_000n + firstSequence + BigInt(i)).toString(),
      partitionKey: 'cdc',
    }),
  );
}
