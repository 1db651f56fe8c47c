/**
 * The master-data (CDC) topology: a branch of its own, reading the CDC stream that AWS DMS and the
 * MongoDB change-stream forwarder write to.
 *
 *   kinesis (CDC stream) → cdc-decode → masterdata-apply (Warm, write endpoint; NOTIFY at commit)
 *                               └─dlq→ cdc-dead-letters (Warm)
 *
 * The applier is idempotent per key version, so the shard checkpoint may lag the commits freely: a
 * replay after a restart changes nothing.
 */
import type { MasterDataChange } from '../operators/cdc/change.ts';
import {
  type DeadLetter,
  type Operator,
  type RawRecord,
  type Sink,
  type SinkRef,
  type Source,
  type Stream,
  type Topology,
  TopologyBuilder,
} from '../topology/index.ts';

/** The components the CDC topology is made of. */
export interface CdcComponents {
  /** The CDC stream's source (a Kinesis source of its own, with its own lease table). */
  readonly source: Source<RawRecord>;
  /** `cdcDecode(config)` from `operators/cdc/cdcDecode.ts`. */
  readonly decode: Operator<RawRecord, MasterDataChange, { dlq: DeadLetter }>;
  /** `masterDataApplySink(warm.write)` from `sinks/warm/masterdata/applier.ts`. */
  readonly apply: Sink<MasterDataChange>;
  readonly deadLetters: Sink<DeadLetter>;
}

/** The built topology and typed handles to its ends (for the test driver). */
export interface CdcTopology {
  readonly topology: Topology;
  readonly records: Stream<RawRecord>;
  readonly applied: SinkRef<MasterDataChange>;
  readonly deadLetters: SinkRef<DeadLetter>;
}

/** Builds the CDC topology from its components. */
export function buildCdcTopology(name: string, c: CdcComponents): CdcTopology {
  const b = new TopologyBuilder(name);
  const records = b.source('kinesis', c.source);
  const changes = records.via('cdc-decode', c.decode);
  const deadLetters = changes.side('dlq').to('cdc-dead-letters', c.deadLetters);
  const applied = changes.to('masterdata-apply', c.apply);
  return { topology: b.build(), records, applied, deadLetters };
}
