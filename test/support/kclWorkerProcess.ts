/**
 * A KCL worker process for the multi-worker tests: the leased Kinesis source into a sink that records
 * every delivery (record id, partition key, shard, sequence number, worker) in PostgreSQL, so a test
 * can count losses and redeliveries and check order. Configured by the KCL_WORKER environment
 * variable (JSON); stops gracefully on SIGTERM, exits 0 after draining.
 *
 *   node --import tsx test/support/kclWorkerProcess.ts
 */
import pg from 'pg';
import { createLogger } from '../../cli/log.ts';
import { kclSource } from '../../sources/kinesis/kclSource.ts';
import {
  type RawRecord,
  type Sink,
  systemClock,
  TopologyBuilder,
  TopologyRuntime,
} from '../../topology/index.ts';
import type { KclWorkerConfig } from './kclWorker.ts';

async function main(): Promise<void> {
  const config = JSON.parse(process.env.KCL_WORKER ?? '') as KclWorkerConfig;
  const log = createLogger({ level: 'info', pretty: false });
  const pool = new pg.Pool({ connectionString: config.postgresUrl, max: 2 });
  pool.on('error', () => {});
  const sink: Sink<RawRecord> = {
    type: 'deliveries',
    write: async (batch) => {
      const values: unknown[] = [];
      const rows = batch.map((r, i) => {
        const { id } = JSON.parse(Buffer.from(r.data).toString()) as { id: number };
        values.push(id, r.partitionKey, r.shardId, r.sequenceNumber, config.workerId);
        return `($${i * 5 + 1}, $${i * 5 + 2}, $${i * 5 + 3}, $${i * 5 + 4}, $${i * 5 + 5})`;
      });
      await pool.query(
        `INSERT INTO deliveries (record_id, partition_key, shard_id, sequence_number, worker) VALUES ${rows.join(', ')}`,
        values,
      );
    },
  };
  const source = kclSource(
    {
      streamName: config.stream,
      endpoint: config.kinesisEndpoint,
      maxRecords: config.maxRecords,
      idleTimeBetweenReadsMs: 20,
      maxIdleTimeMs: 100,
    },
    {
      tableName: config.table,
      workerId: config.workerId,
      endpoint: config.dynamodbEndpoint,
      failoverTimeMs: config.failoverTimeMs,
      renewIntervalMs: config.renewIntervalMs,
      takeIntervalMs: config.takeIntervalMs,
      shardSyncIntervalMs: 300,
      parentPollMs: 50,
    },
    { clock: systemClock, log },
  );
  const b = new TopologyBuilder('kcl-worker');
  b.source('kinesis', source).to('deliveries', sink);
  const runtime = new TopologyRuntime(b.build(), {
    checkpointIntervalMs: 0,
    maxInFlightBatches: config.maxInFlightBatches,
    log,
  });
  process.once('SIGTERM', () => {
    log.info({}, 'SIGTERM: draining');
    void runtime.stop();
  });
  log.info({ workerId: config.workerId }, 'worker started');
  await runtime.run();
  await pool.end();
  log.info({ workerId: config.workerId }, 'worker stopped');
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
