/** What the KCL worker processes of the multi-worker tests are told, and the table they write. */

/** What a test worker is told. */
export interface KclWorkerConfig {
  readonly stream: string;
  readonly table: string;
  readonly workerId: string;
  readonly kinesisEndpoint: string;
  readonly dynamodbEndpoint: string;
  readonly postgresUrl: string;
  readonly failoverTimeMs: number;
  readonly renewIntervalMs: number;
  readonly takeIntervalMs: number;
  readonly maxRecords: number;
  readonly maxInFlightBatches: number;
}

/** The table the workers write deliveries to. */
export const DELIVERIES_DDL = `CREATE TABLE IF NOT EXISTS deliveries (
  n bigserial PRIMARY KEY, record_id bigint NOT NULL, partition_key text NOT NULL,
  shard_id text NOT NULL, sequence_number numeric NOT NULL, worker text NOT NULL,
  at timestamptz NOT NULL DEFAULT clock_timestamp())`;
