/**
 * The Cold sink: joined telemetry buffered in memory (column by column per partition, see
 * `PartitionedTelemetry`) and appended to the Iceberg table as Parquet, one snapshot per commit, on a row
 * target or an interval (never an empty commit). Each snapshot's summary records every shard's
 * committed position; shards are marked durable only after the catalog swap. On start the sink reads
 * those positions back and drops records at or below them, so a replay after a crash adds nothing
 * twice. Data files written by a commit that never swapped are orphans, removed by
 * `shardflow iceberg maintain`.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import {
  comparePositions,
  type Enriched,
  errorMessage,
  type Logger,
  maxPosition,
  type Position,
  positionOfRecord,
  type Sink,
  type SinkOpenContext,
  silentLogger,
} from '../../topology/index.ts';
import type { Catalog } from './catalog/catalog.ts';
import {
  AlreadyCommittedError,
  checkpointSummary,
  checkStartsBeyond,
  committedPositions,
} from './iceberg/checkpoints.ts';
import { appendFiles, evolveSchema, loadOrCreateTable, loadTable, type TableRef } from './iceberg/commit.ts';
import { stringifyJson } from './iceberg/json.ts';
import { currentSchema, defaultSpec } from './iceberg/metadata.ts';
import { partitionPath } from './iceberg/partition.ts';
import { keyOf, type TableFiles } from './iceberg/tableFiles.ts';
import { PartitionedTelemetry } from './iceberg/telemetryBuffer.ts';
import {
  coldFields,
  evolvedTelemetrySchema,
  metricColumnSchema,
  TELEMETRY_SPEC,
  telemetrySchema,
} from './iceberg/telemetryTable.ts';
import type { DataFile, PartitionSpecJson, SchemaJson } from './iceberg/types.ts';
import type { ColdField, ColumnarRows, DataFileStats, ParquetOptions } from './parquet/types.ts';

/** Configuration of the Cold sink (`cold` section). */
export const coldSinkConfigSchema = z.object({
  namespace: z.string().min(1).default('iot').describe('catalog namespace (Glue database) of the table'),
  table: z.string().min(1).default('telemetry').describe('table name'),
  commitIntervalMs: z
    .number()
    .int()
    .min(1)
    .default(300_000)
    .describe('commit at least this often while rows are buffered'),
  targetRows: z
    .number()
    .int()
    .min(1)
    .default(500_000)
    .describe('commit as soon as this many rows are buffered'),
  maxFileRows: z
    .number()
    .int()
    .min(1)
    .default(100_000)
    .describe(
      'rows per data file at most: a partition with more is written as several files, and the worker serves its shards between them',
    ),
  writerId: z
    .string()
    .min(1)
    .optional()
    .describe('id recorded in snapshot summaries (default: a fresh UUID per start)'),
  metricColumns: z
    .array(metricColumnSchema)
    .default([])
    .describe('metrics kept in typed columns; the rest go to the metrics map'),
  compression: z.enum(['zstd', 'snappy']).default('zstd').describe('Parquet page compression'),
  maxCommitAttempts: z
    .number()
    .int()
    .min(1)
    .default(12)
    .describe('catalog swap attempts per commit before failing it'),
  commitBackoffMs: z.number().int().min(0).default(100).describe('first backoff after a lost commit race'),
});

/** Validated Cold sink configuration. */
export type ColdSinkConfig = z.infer<typeof coldSinkConfigSchema>;

/**
 * Writes one Parquet data file: the Cold layer's `writeParquet` on the event loop, or a
 * `threadParquetWriter`'s `write` on a thread of its own (what a worker uses).
 */
export type DataFileWriter = (
  fields: readonly ColdField[],
  rows: ColumnarRows,
  options: ParquetOptions,
) => { bytes: Uint8Array; stats: DataFileStats } | Promise<{ bytes: Uint8Array; stats: DataFileStats }>;

/** What the sink is wired to. */
export interface ColdSinkDeps {
  readonly catalog: Catalog;
  readonly files: TableFiles;
  readonly writeDataFile: DataFileWriter;
  /** Called when the sink closes: ends what `writeDataFile` holds (its thread). */
  readonly closeDataFileWriter?: () => Promise<void>;
  readonly log?: Logger;
}

/** A sink appending telemetry to the Cold Iceberg table, exactly once per shard position. */
export function coldSink(config: ColdSinkConfig, deps: ColdSinkDeps): Sink<Enriched> {
  const log = deps.log ?? silentLogger;
  const writerId = config.writerId ?? randomUUID();
  const id = { namespace: config.namespace, name: config.table };
  let ctx: SinkOpenContext | undefined;
  let ref: TableRef | undefined;
  let schema: SchemaJson | undefined;
  let spec: PartitionSpecJson = TELEMETRY_SPEC;
  let committed = new Map<string, Position>();
  let buffer: PartitionedTelemetry | undefined;
  // Per shard, the position of its first buffered row (batches of a shard come in order).
  let firsts = new Map<string, Position>();
  // Per shard, the end of the last source batch taken into the buffer (records kept or skipped).
  let buffered = new Map<string, Position>();
  const seen = new Set<string>();
  let failedBefore = false;
  let chain: Promise<unknown> = Promise.resolve();
  const stop = new AbortController();

  async function writeDataFiles(rows: PartitionedTelemetry): Promise<DataFile[]> {
    const fields = coldFields(schema!);
    const out: DataFile[] = [];
    for (const { day, productId, rows: group } of rows.partitions()) {
      const partition = { device_timestamp_day: day, product_id: productId };
      // Encoding is synchronous unless the writer runs on a thread: capping a file's rows, and
      // yielding between files, keeps a commit of minutes of rows from stalling every shard of
      // the worker (and its lease renewals) for seconds at a time.
      for (let from = 0; from < group.length; from += config.maxFileRows) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        const columns = group.columns(from, Math.min(group.length, from + config.maxFileRows));
        const { bytes, stats } = await deps.writeDataFile(fields, columns, {
          compression: config.compression,
          keyValueMetadata: { 'iceberg.schema': stringifyJson(schema, '') },
        });
        const relative = `data/${partitionPath(spec, partition)}/${randomUUID()}.parquet`;
        await deps.files.store.put(`${deps.files.prefix}/${relative}`, bytes);
        out.push({ filePath: `${deps.files.location}/${relative}`, partition, stats });
      }
    }
    return out;
  }

  /**
   * Takes `positions` (shard → position the table holds) as committed: drops buffered rows at or below
   * them and marks durable each shard whose buffered batches they cover entirely.
   */
  function settle(positions: ReadonlyMap<string, Position>): void {
    for (const [shard, p] of positions) committed.set(shard, maxPosition(committed.get(shard), p));
    if (buffer) {
      buffer.filter((shard, p) => {
        const done = committed.get(shard);
        return !done || comparePositions(p, done) > 0;
      });
      firsts = buffer.firstPositions();
    }
    for (const [shard, p] of buffered) {
      const done = committed.get(shard);
      if (done && comparePositions(p, done) <= 0) {
        buffered.delete(shard);
        ctx!.markDurable(shard, p);
      }
    }
  }

  /** Puts the rows of a commit that failed back in front of those buffered since. */
  function restore(rows: PartitionedTelemetry, starts: ReadonlyMap<string, Position>): void {
    if (buffer) rows.appendAll(buffer);
    buffer = rows;
    firsts = new Map([...firsts, ...starts]);
  }

  /**
   * Commits the buffer as one snapshot. The append re-checks, on every swap attempt, that each shard's
   * rows start beyond the position the table holds for it: another writer may have committed them
   * since (the shard moved while this writer still held them). A data file mixes shards, so such an
   * attempt cannot drop just the stale rows: it is abandoned, its files deleted, the buffer filtered
   * against the table's positions and the rest written and committed anew.
   */
  async function commitBuffered(): Promise<void> {
    if (failedBefore) {
      // The last swap may have happened although its answer was lost: the table's markers say.
      const table = await loadTable(ref!);
      if (table) settle(committedPositions(table.metadata).positions);
      failedBefore = false;
    }
    for (;;) {
      if (!buffer || buffer.length === 0) return;
      const rows = buffer;
      const positions = buffered;
      const starts = firsts;
      buffer = undefined;
      buffered = new Map();
      firsts = new Map();
      let files: DataFile[] = [];
      try {
        files = await writeDataFiles(rows);
        const merged = new Map(committed);
        for (const [shard, p] of positions) merged.set(shard, maxPosition(merged.get(shard), p));
        const result = await appendFiles(ref!, files, {
          summary: checkpointSummary(writerId, merged),
          precondition: (current) => checkStartsBeyond(current, starts),
        });
        // Not `committed = merged`: a write may have taken a moved shard's position meanwhile.
        for (const [shard, p] of merged) committed.set(shard, maxPosition(committed.get(shard), p));
        log.info(
          {
            table: `${id.namespace}.${id.name}`,
            snapshotId: String(result.snapshotId),
            rows: rows.length,
            files: files.length,
            attempts: result.attempts,
          },
          'cold commit',
        );
        for (const [shard, p] of positions) ctx!.markDurable(shard, p);
        return;
      } catch (error) {
        // Put the rows back: nothing was committed, and a retried write must not buffer them twice.
        restore(rows, starts);
        for (const [shard, p] of positions) buffered.set(shard, maxPosition(buffered.get(shard), p));
        if (!(error instanceof AlreadyCommittedError)) {
          failedBefore = true;
          throw error;
        }
        // No snapshot references these files: delete them rather than leave orphans.
        await deps.files.store.delete(files.map((f) => keyOf(deps.files, f.filePath))).catch(() => {});
        log.info(
          { table: `${id.namespace}.${id.name}`, shards: [...error.committed.keys()] },
          'cold commit: rows already committed by another writer dropped',
        );
        settle(error.committed);
      }
    }
  }

  const commit = (): Promise<void> => {
    const next = chain.then(commitBuffered);
    chain = next.catch(() => {});
    return next;
  };

  async function commitOnInterval(): Promise<void> {
    while (!stop.signal.aborted) {
      try {
        await ctx!.clock.sleep(config.commitIntervalMs, stop.signal);
      } catch {
        return;
      }
      await commit().catch((error) =>
        log.warn({ error: errorMessage(error) }, 'cold commit failed; rows stay buffered'),
      );
    }
  }

  return {
    type: 'iceberg-cold',
    stores: [{ name: `cold.${config.namespace}.${config.table}`, kind: 'iceberg' }],
    durability: 'explicit',
    async open(openCtx) {
      ctx = openCtx;
      ref = {
        id,
        catalog: deps.catalog,
        files: deps.files,
        clock: openCtx.clock,
        maxAttempts: config.maxCommitAttempts,
        backoffMs: config.commitBackoffMs,
      };
      let table = await loadOrCreateTable(ref, telemetrySchema(config.metricColumns), TELEMETRY_SPEC, {
        'write.parquet.compression-codec': config.compression,
      });
      const wanted = evolvedTelemetrySchema(
        currentSchema(table.metadata),
        table.metadata['last-column-id'],
        config.metricColumns,
      );
      if (wanted) {
        table = await evolveSchema(ref, (meta) =>
          evolvedTelemetrySchema(currentSchema(meta), meta['last-column-id'], config.metricColumns),
        );
      }
      schema = currentSchema(table.metadata);
      spec = defaultSpec(table.metadata);
      committed = committedPositions(table.metadata).positions;
      openCtx.signal.addEventListener('abort', () => stop.abort(), { once: true });
      void commitOnInterval();
    },
    async write(batch, batchCtx) {
      const shard = batchCtx.shardId;
      if (!seen.has(shard)) {
        // A shard new to this worker may have moved here from another writer since open: take its
        // newest committed position from the table before filtering.
        const table = await loadTable(ref!);
        const latest = table && committedPositions(table.metadata).positions.get(shard);
        if (latest) committed.set(shard, maxPosition(committed.get(shard), latest));
        seen.add(shard);
      }
      const done = committed.get(shard);
      const floor = buffered.get(shard) ?? done;
      if (floor && comparePositions(batchCtx.position, floor) <= 0) {
        // A replayed or retried batch: everything in it is committed or already buffered.
        if (!buffered.has(shard)) ctx!.markDurable(shard, batchCtx.position);
        return;
      }
      // The batch position names sub-record 0 of its last Kinesis record; when that record is a KPL
      // aggregate, the batch ends at its last user record, and a replay whose pages end elsewhere
      // must find those user records committed too.
      let end = batchCtx.position;
      for (const r of batch) {
        const p = positionOfRecord(r.rawRef);
        if (!floor || comparePositions(p, floor) > 0) {
          buffer ??= new PartitionedTelemetry(schema!);
          buffer.append(r);
          if (!firsts.has(r.rawRef.shardId)) firsts.set(r.rawRef.shardId, p);
        }
        end = maxPosition(end, p);
      }
      buffered.set(shard, end);
      if (buffer && buffer.length >= config.targetRows) await commit();
    },
    flush: () => commit(),
    close() {
      stop.abort();
      // after the commits already chained (a closing worker flushes first)
      if (deps.closeDataFileWriter !== undefined) void chain.then(deps.closeDataFileWriter).catch(() => {});
    },
  };
}
