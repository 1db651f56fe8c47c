/**
 * The master-data (CDC) branch of the worker's topology, reading the CDC stream that AWS DMS and the
 * MongoDB change-stream forwarder write to.
 *
 *   cdc (CDC stream) → cdc-decode → masterdata-apply (Warm, write endpoint; NOTIFY at commit)
 *                          │              └─rejected→ masterdata-apply-rejected (Warm)
 *                          └─dlq→ cdc-dead-letters (Warm)
 *
 * The applier is idempotent per key version, so the shard checkpoint may lag the commits freely: a
 * replay after a restart changes nothing.
 */
import type { MasterDataChange } from '../operators/cdc/change.ts';
import type {
  DeadLetter,
  Operator,
  RawRecord,
  Sink,
  SinkRef,
  Source,
  Stream,
  TopologyBuilder,
} from '../topology/index.ts';

/** The components of the CDC branch. */
export interface CdcComponents {
  /** The CDC stream's source (a Kinesis source of its own, with its own lease table). */
  readonly source: Source<RawRecord>;
  /** `cdcDecode(config)` from `operators/cdc/cdcDecode.ts`. */
  readonly decode: Operator<RawRecord, MasterDataChange, { dlq: DeadLetter }>;
  /** `masterDataApplySink(warm.write)` from `sinks/warm/masterdata/applier.ts`. */
  readonly apply: Sink<MasterDataChange>;
}

/** Typed handles to the CDC branch's ends (for the test driver). */
export interface CdcBranch {
  readonly records: Stream<RawRecord>;
  readonly applied: SinkRef<MasterDataChange>;
  readonly deadLetters: SinkRef<DeadLetter>;
}

/**
 * Adds the CDC branch (source `cdc`) to a topology being built; the worker's topology uses it.
 * `deadLetters` makes a dead-letter sink, once per node that can refuse records.
 */
export function addCdcBranch(
  b: TopologyBuilder,
  c: CdcComponents,
  deadLetters: () => Sink<DeadLetter>,
): CdcBranch {
  const records = b.source('cdc', c.source);
  const changes = records.via('cdc-decode', c.decode);
  const applied = changes.to('masterdata-apply', c.apply);
  applied.rejected().to('masterdata-apply-rejected', deadLetters());
  return {
    records,
    deadLetters: changes.side('dlq').to('cdc-dead-letters', deadLetters()),
    applied,
  };
}
