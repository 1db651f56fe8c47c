/**
 * Turns records the window operator refused as too late (older than its state retention) into dead
 * letters with the code `too-late`, so they are counted, kept with their stream position and never
 * silently lost when no Cold table is configured to keep them. The payload is the joined telemetry
 * as JSON (the original bytes are no longer at hand after decoding).
 */
import type { DeadLetter, Enriched, Operator } from '../topology/index.ts';

/** Dead letters of too-late records, one per record. */
export function lateRecordsAsDeadLetters(): Operator<Enriched, DeadLetter> {
  return {
    type: 'late-records-as-dead-letters',
    process: function lateBatch(batch, ctx) {
      const failedAt = ctx.clock.now();
      return batch.map(
        (record): DeadLetter => ({
          node: ctx.node,
          reason: `event time ${new Date(record.device_timestamp).toISOString()} is older than the window state retention`,
          code: 'too-late',
          specId: record.rawRef.specId,
          specVersion: record.rawRef.specVersion,
          stream: record.rawRef.stream,
          shardId: record.rawRef.shardId,
          sequenceNumber: record.rawRef.sequenceNumber,
          subSequenceNumber: record.rawRef.subSequenceNumber,
          // a raw record may yield several records (hub children, logger rows): tell them apart
          item: `${record.device_id}@${record.device_timestamp}`,
          payloadBase64: Buffer.from(JSON.stringify(record)).toString('base64'),
          failedAt,
        }),
      );
    },
  };
}
