/**
 * `cdc-decode`: AWS DMS Kinesis JSON and MongoDB change-stream documents → typed master-data
 * changes, through the mapping config. A record that is not JSON, is neither format, or cannot be
 * mapped goes to `dlq` with a reason code; a change of a table no mapping names is dropped (or
 * dead-lettered, as configured). Control records pass through as `control` changes.
 */
import { type DeadLetter, deadLetterOf, type Operator, type RawRecord } from '../../topology/index.ts';
import type { MasterDataChange } from './change.ts';
import { isDmsRecord, parseDmsRecord } from './dms.ts';
import type { CdcDecodeConfig } from './mapping.ts';
import { isMongoChange, parseMongoChange } from './mongo.ts';
import { CdcMappingError, mapChange, type SourceChange } from './sourceChange.ts';

const decoder = new TextDecoder();

function parseRecord(record: RawRecord): SourceChange {
  let doc: unknown;
  try {
    doc = JSON.parse(decoder.decode(record.data));
  } catch (error) {
    throw new CdcMappingError(`invalid JSON: ${(error as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw new CdcMappingError('not a JSON object');
  const object = doc as Record<string, unknown>;
  if (isDmsRecord(object)) return parseDmsRecord(object);
  if (isMongoChange(object)) return parseMongoChange(object);
  throw new CdcMappingError(
    'neither a DMS record (metadata.record-type) nor a change-stream document (operationType)',
  );
}

/** Decodes CDC records into master-data changes. */
export function cdcDecode(
  config: CdcDecodeConfig,
): Operator<RawRecord, MasterDataChange, { dlq: DeadLetter }> {
  return {
    type: 'cdc-decode',
    sideOutputs: ['dlq'],
    process: function decodeCdcBatch(batch, ctx) {
      const out: MasterDataChange[] = [];
      for (const record of batch) {
        try {
          const change = parseRecord(record);
          const mapped = mapChange(
            change,
            config.mappings,
            record.sequenceNumber,
            record.subSequenceNumber ?? 0,
          );
          if (mapped.length === 0 && change.kind === 'row' && config.unmapped === 'dead-letter') {
            ctx.side(
              'dlq',
              deadLetterOf(record, ctx.node, `no mapping for ${change.origin}`, ctx.clock.now(), {
                code: 'cdc-unmapped',
              }),
            );
            continue;
          }
          for (const m of mapped) out.push(m);
        } catch (error) {
          if (!(error instanceof CdcMappingError)) throw error;
          ctx.side(
            'dlq',
            deadLetterOf(record, ctx.node, error.message, ctx.clock.now(), { code: 'cdc-invalid' }),
          );
        }
      }
      return out;
    },
  };
}
