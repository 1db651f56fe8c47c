/**
 * `shardflow gateway files --from s3://bucket/prefix|DIR`: puts every record of every file under a
 * source on the stream, in the `file` envelope, resumably.
 *
 * Per file, a progress record says how far the file is in the stream. It moves only over the longest
 * prefix of the file's records that is durable, and is written at most every `progressIntervalMs` and
 * at the file's end. A file done with the same version is skipped; a changed one is taken again from
 * its start; a half-done one resumes at its offset. A run stopped by its signal waits for what it
 * offered to become durable and writes the progress of all of it: the next run puts nothing twice.
 * A process killed hard (kill -9) loses at most the progress since the last write: those records are
 * put again (at least once).
 *
 * Memory stays bounded: the gateway offers a record only when the ingest has room, and reads the file
 * no further meanwhile.
 */
import { createHash } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import { type Clock, errorMessage, type Logger, silentLogger } from '../../topology/index.ts';
import { type DurableIngest, MAX_PARTITION_KEY_BYTES } from '../ingest/durableIngest.ts';
import { envelopeBytes, envelopeOf, type PayloadKeyFinder } from '../ingest/envelope.ts';
import type { FilesGatewayConfig } from './config.ts';
import { directorySource } from './directorySource.ts';
import { DurablePrefix, type ResumePoint } from './durablePrefix.ts';
import { type BrokenBytes, type FileRecord, FileRecordCutter } from './fileRecords.ts';
import type { FileProgress, FileSource, SourceFile } from './fileSource.ts';
import { createS3Client, parseS3Uri, s3Source } from './s3Source.ts';

/** Where the run is, for a progress bar. */
export interface FilesProgress {
  /** The file the update is about. */
  readonly file: string;
  readonly event: 'started' | 'reading' | 'done' | 'skipped' | 'failed' | 'stopped';
  readonly filesTotal: number;
  /** Files done, skipped or failed so far. */
  readonly filesFinished: number;
  /** Bytes of the files to read in this run (skipped files not counted), and read so far. */
  readonly bytesTotal: number;
  readonly bytesRead: number;
  /** Records in the stream from this run. */
  readonly records: number;
}

/** What a run did. */
export interface FilesSummary {
  /** Files read in this run (completely, or until their framing broke). */
  readonly files: number;
  /** Files already in the stream with the same version. */
  readonly skipped: number;
  /** Records put in this run (rejected bytes not counted). */
  readonly records: number;
  /** Bytes read in this run. */
  readonly bytes: number;
  /** Files that broke (framing, reading, a record too large) and why. */
  readonly failed: readonly { readonly uri: string; readonly reason: string }[];
  /** The run was stopped by its signal before every file was done. */
  readonly stopped: boolean;
}

/** What a run needs. */
export interface RunFilesGatewayOptions {
  readonly config: FilesGatewayConfig;
  /** `s3://bucket/prefix` or a directory. */
  readonly from: string;
  readonly ingest: DurableIngest;
  readonly clock: Clock;
  readonly log?: Logger;
  /** The partition key of a record's payload; `file:<uri>` when absent or it finds none. */
  readonly keyFinder?: PayloadKeyFinder;
  readonly onProgress?: (progress: FilesProgress) => void;
  /** Stops the run: no new record is offered, the offered ones become durable, progress is written. */
  readonly signal?: AbortSignal;
  /** The S3 client of an s3:// source; built from `config.s3` when absent. */
  readonly s3Client?: S3Client;
  /** Another source than `from`'s (a test's, wrapping a real one); `from` then only names it. */
  readonly source?: FileSource;
}

/** The source of `from`: an S3 prefix or a directory. */
export function openFileSource(from: string, config: FilesGatewayConfig, s3Client?: S3Client): FileSource {
  const filter = {
    ...(config.include !== undefined ? { include: config.include } : {}),
    ...(config.progress !== undefined ? { progress: config.progress } : {}),
  };
  if (parseS3Uri(from) !== undefined) return s3Source(s3Client ?? createS3Client(config.s3), from, filter);
  return directorySource(from.startsWith('file://') ? new URL(from).pathname : from, filter);
}

/** Exit status of a run: 0 all done, 1 a file failed, 2 stopped before the end. */
export function filesExitCode(summary: FilesSummary): number {
  return summary.failed.length > 0 ? 1 : summary.stopped ? 2 : 0;
}

/** Rejected bytes kept in one envelope at most (base64 and the envelope must fit a 1 MiB record). */
const MAX_REJECTED_BYTES = 512 * 1024;
const REPORT_EVERY_MS = 200;
/** Reads of a file that may fail in a row before the file fails, and the growing wait between them. */
const READ_ATTEMPTS = 3;
const READ_RETRY_DELAY_MS = 1_000;

/** A file's own partition key: its records stay in order. Kinesis keys hold 256 characters at most. */
export function filePartitionKey(uri: string): string {
  const key = `file:${uri}`;
  return Buffer.byteLength(key, 'utf8') <= MAX_PARTITION_KEY_BYTES
    ? key
    : `file:${createHash('sha256').update(uri).digest('hex')}`;
}

/** The ingest closed under a run: the file stops where its durable prefix ends, as on a signal. */
class IngestClosedError extends Error {
  override readonly name = 'IngestClosedError';
}

/** Runs the file gateway over `from` once; see the file's comment. */
export async function runFilesGateway(options: RunFilesGatewayOptions): Promise<FilesSummary> {
  const { config } = options;
  if (options.source !== undefined) return run(options, options.source);
  // A client built here is closed here (its kept-alive sockets would hold the process).
  const ownClient =
    options.s3Client === undefined && parseS3Uri(options.from) !== undefined
      ? createS3Client(config.s3)
      : undefined;
  try {
    return await run(options, openFileSource(options.from, config, options.s3Client ?? ownClient));
  } finally {
    ownClient?.destroy();
  }
}

async function run(options: RunFilesGatewayOptions, source: FileSource): Promise<FilesSummary> {
  const { config, ingest, clock, keyFinder, onProgress, signal } = options;
  const log = options.log ?? silentLogger;
  const cutOptions = {
    framing: config.framing,
    header: config.header,
    linesPerRecord: config.linesPerRecord,
  };
  const files = await source.list();
  log.info(
    { from: source.location, progress: source.progressLocation, files: files.length },
    'file gateway: listed',
  );

  const totals = { files: 0, skipped: 0, records: 0, bytesRead: 0, bytesTotal: 0, finished: 0 };
  const failed: { uri: string; reason: string }[] = [];
  let stopped = false;
  let reportedAt = Number.NEGATIVE_INFINITY;

  const report = (file: SourceFile, event: FilesProgress['event']) => {
    if (onProgress === undefined) return;
    const now = clock.now();
    if (event === 'reading' && now - reportedAt < REPORT_EVERY_MS) return;
    reportedAt = now;
    onProgress({
      file: file.uri,
      event,
      filesTotal: files.length,
      filesFinished: totals.finished,
      bytesTotal: totals.bytesTotal,
      bytesRead: totals.bytesRead,
      records: totals.records,
    });
  };

  /** Offers until the ingest takes it (waiting for room, never buffering more). */
  const offer = async (
    partitionKey: string,
    data: Uint8Array,
    prefix: DurablePrefix,
    end: number,
    endLine: number,
    counts: boolean,
  ) => {
    for (;;) {
      const admission = ingest.offer({ partitionKey, data });
      if (admission.accepted) {
        const ticket = prefix.add(end, endLine);
        admission.durable.then(
          () => {
            if (counts) totals.records++;
            prefix.durable(ticket);
          },
          (error: Error) => prefix.fail(ticket, error),
        );
        return;
      }
      if (admission.reason === 'closed')
        throw new IngestClosedError('the ingest closed before the file was done');
      await ingest.whenRoom();
    }
  };

  const ingestFile = async (file: SourceFile): Promise<void> => {
    const previous = await source.readProgress(file);
    if (previous?.version === file.version && previous.done) {
      totals.skipped++;
      totals.finished++;
      totals.bytesTotal -= file.size;
      log.debug({ file: file.uri, failed: previous.failed }, 'file gateway: already in the stream, skipped');
      report(file, 'skipped');
      return;
    }
    const resume = previous?.version === file.version ? previous : undefined;
    if (previous !== undefined && resume === undefined)
      log.info(
        { file: file.uri, was: previous.version, now: file.version },
        'file gateway: the file changed; taking it again',
      );
    const start: ResumePoint = {
      offset: resume?.offset ?? 0,
      line: resume?.line ?? 0,
      records: resume?.records ?? 0,
    };
    const cutter = new FileRecordCutter(cutOptions, {
      offset: start.offset,
      line: start.line,
      header: resume?.header !== undefined ? Buffer.from(resume.header, 'base64') : undefined,
    });
    const prefix = new DurablePrefix(start);
    const textual = config.framing.kind === 'lines';
    const fileKey = filePartitionKey(file.uri);
    const keyOf = (payload: Uint8Array) => {
      if (keyFinder === undefined) return fileKey;
      try {
        return keyFinder(payload, config.productId) ?? fileKey;
      } catch {
        return fileKey; // a finder's bug must not stop the file; the decode stage judges the record
      }
    };

    const progressOf = (done: boolean, reason?: string): FileProgress => {
      const point = prefix.committed;
      const header = cutter.header;
      return {
        v: 1,
        uri: file.uri,
        version: file.version,
        size: file.size,
        offset: point.offset,
        line: point.line,
        records: point.records,
        done,
        ...(reason !== undefined ? { failed: reason } : {}),
        ...(header !== undefined ? { header: Buffer.from(header).toString('base64') } : {}),
        updatedAt: clock.now(),
      };
    };

    // Progress writes: one at a time, at most every progressIntervalMs, only when the prefix moved.
    let written: ResumePoint = start;
    let writtenAt = clock.now();
    let writing: Promise<void> | undefined;
    const maybeWrite = () => {
      if (writing !== undefined || prefix.committed === written) return;
      if (clock.now() - writtenAt < config.progressIntervalMs) return;
      const point = prefix.committed;
      writing = source
        .writeProgress(file, progressOf(false))
        .then(
          () => {
            written = point;
          },
          (error) =>
            log.warn({ file: file.uri, error: errorMessage(error) }, 'file gateway: progress not written'),
        )
        .finally(() => {
          writtenAt = clock.now();
          writing = undefined;
        });
    };
    const ticking = new AbortController();
    const ticker = (async () => {
      while (!ticking.signal.aborted) {
        await clock.sleep(config.progressIntervalMs, ticking.signal).catch(() => {});
        maybeWrite();
      }
    })();

    const offerRecord = (record: FileRecord) => {
      const at = textual ? `line ${record.line}` : `offset ${record.offset}`;
      const envelope = envelopeOf({
        protocol: 'file',
        payload: record.payload,
        receivedAt: clock.now(),
        source: `${file.uri}#${at}`,
        productId: config.productId,
      });
      return offer(keyOf(record.payload), envelopeBytes(envelope), prefix, record.end, record.endLine, true);
    };
    const offerBroken = (broken: BrokenBytes) => {
      const kept = broken.bytes.subarray(0, MAX_REJECTED_BYTES);
      const cut =
        kept.byteLength < broken.bytes.byteLength
          ? ` (first ${kept.byteLength} of ${broken.bytes.byteLength} bytes kept)`
          : '';
      const envelope = {
        ...envelopeOf({
          protocol: 'file',
          payload: kept,
          receivedAt: clock.now(),
          source: `${file.uri}#offset ${broken.offset}`,
          productId: config.productId,
        }),
        rejected: `${broken.reason}${cut}`,
      };
      const end = broken.offset + broken.bytes.byteLength;
      return offer(
        filePartitionKey(file.uri),
        envelopeBytes(envelope),
        prefix,
        end,
        prefix.committed.line,
        false,
      );
    };

    totals.files++;
    totals.bytesTotal -= start.offset;
    report(file, 'started');
    let broken: string | undefined;
    let readError: string | undefined;
    let complete = false;
    try {
      let attempts = 0;
      let chunks = source.read(file, start.offset)[Symbol.asyncIterator]();
      try {
        reading: for (;;) {
          let next: IteratorResult<Uint8Array>;
          try {
            next = await chunks.next();
          } catch (error) {
            // A read cut off (a connection S3 closed while the stream was stalled): read again from
            // the next byte the cutter needs, a few times. Errors of offers are never retried here.
            if (++attempts > READ_ATTEMPTS || signal?.aborted) throw error;
            log.warn(
              { file: file.uri, offset: cutter.position, attempt: attempts, error: errorMessage(error) },
              'file gateway: read failed; reading again',
            );
            await clock.sleep(attempts * READ_RETRY_DELAY_MS);
            chunks = source.read(file, cutter.position)[Symbol.asyncIterator]();
            continue;
          }
          if (next.done) break;
          attempts = 0;
          const chunk = next.value;
          totals.bytesRead += chunk.byteLength;
          const cut = cutter.push(chunk);
          for (const record of cut.records) {
            if (signal?.aborted || prefix.failed !== undefined) break reading;
            await offerRecord(record);
          }
          if (cut.broken !== undefined) {
            await offerBroken(cut.broken);
            broken = cut.broken.reason;
            break;
          }
          maybeWrite();
          report(file, 'reading');
        }
      } finally {
        await chunks.return?.();
      }
      if (broken === undefined && !signal?.aborted && prefix.failed === undefined) {
        const last = cutter.end();
        for (const record of last.records) await offerRecord(record);
        if (last.broken !== undefined) {
          await offerBroken(last.broken);
          broken = last.broken.reason;
        }
        complete = true;
      }
    } catch (error) {
      if (error instanceof IngestClosedError) log.warn({ file: file.uri }, error.message);
      else readError = errorMessage(error);
    }
    await prefix.whenSettled();
    ticking.abort();
    await ticker;
    await writing;
    const lost = prefix.failed;
    // A file whose framing broke is done (its bytes are in the stream, rejected); one that could not be
    // read, or whose records the ingest gave up, resumes at its durable prefix next time.
    const done = lost === undefined && readError === undefined && (complete || broken !== undefined);
    try {
      await source.writeProgress(file, progressOf(done, broken));
    } catch (error) {
      readError ??= `progress not written: ${errorMessage(error)}`;
    }
    totals.finished++;
    const reason = broken ?? readError;
    if (lost !== undefined) {
      stopped = true;
      log.warn(
        { file: file.uri, error: lost.message, resumesAt: prefix.committed.offset },
        'file gateway: records not put; the file resumes next run',
      );
      report(file, 'stopped');
    } else if (reason !== undefined) {
      failed.push({ uri: file.uri, reason });
      log.error({ file: file.uri, reason, at: prefix.committed.offset }, 'file gateway: file failed');
      report(file, 'failed');
    } else if (!done) {
      stopped = true;
      log.info(
        { file: file.uri, resumesAt: prefix.committed.offset },
        'file gateway: stopped; the file resumes next run',
      );
      report(file, 'stopped');
    } else {
      log.info({ file: file.uri, records: prefix.committed.records }, 'file gateway: file in the stream');
      report(file, 'done');
    }
  };

  // Skipped files and the parts of resumed files already in the stream leave the total as they are met.
  totals.bytesTotal = files.reduce((n, f) => n + f.size, 0);
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      if (signal?.aborted) {
        stopped = true;
        return;
      }
      const file = files[next++]!;
      try {
        await ingestFile(file);
      } catch (error) {
        failed.push({ uri: file.uri, reason: errorMessage(error) });
        log.error({ file: file.uri, error: errorMessage(error) }, 'file gateway: file failed');
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(config.concurrency, Math.max(1, files.length)) }, worker));
  return {
    files: totals.files,
    skipped: totals.skipped,
    records: totals.records,
    bytes: totals.bytesRead,
    failed,
    stopped,
  };
}
