/**
 * Parquet data files encoded on a thread of their own. Building Arrow buffers and compressing a file
 * of 50,000 rows takes the better part of a second of CPU; on the worker's event loop that second
 * stalls every shard, and a commit of minutes of rows stalls them for many seconds (lease renewals
 * included). On this thread the event loop only copies the columns over (structured clone) and
 * takes the bytes back. One thread per Cold sink, started at the first file; files are encoded one
 * after another.
 */
import { Worker } from 'node:worker_threads';
import type { ColdField, ColumnarRows, DataFileStats, ParquetOptions } from './types.ts';

/** One file to write, as sent to the thread. */
export interface EncodeRequest {
  readonly id: number;
  readonly fields: readonly ColdField[];
  readonly rows: ColumnarRows;
  readonly options: ParquetOptions;
}

/** The thread's answer: the file, or why it could not be written. */
export type EncodeResponse =
  | { readonly id: number; readonly bytes: Uint8Array; readonly stats: DataFileStats }
  | { readonly id: number; readonly error: string };

/** A writer of Parquet data files on a thread; `close` ends the thread. */
export interface ThreadParquetWriter {
  write(
    fields: readonly ColdField[],
    rows: ColumnarRows,
    options: ParquetOptions,
  ): Promise<{ bytes: Uint8Array; stats: DataFileStats }>;
  close(): Promise<void>;
}

/** Starts nothing until the first file; a thread that dies fails the files in flight, and the next file starts a new one. */
export function threadParquetWriter(): ThreadParquetWriter {
  let worker: Worker | undefined;
  let nextId = 0;
  const pending = new Map<number, { resolve: (r: EncodeResponse) => void; reject: (e: Error) => void }>();

  function failAll(error: Error): void {
    for (const p of pending.values()) p.reject(error);
    pending.clear();
  }

  function thread(): Worker {
    if (worker !== undefined) return worker;
    const started = new Worker(new URL('./encodeThread.mjs', import.meta.url));
    // The thread keeps the process alive only while it has files to write (a flush at shutdown
    // waits for them); idle, it does not hold a stopping worker back.
    started.unref();
    started.on('message', (response: EncodeResponse) => {
      const p = pending.get(response.id);
      pending.delete(response.id);
      if (pending.size === 0) started.unref();
      p?.resolve(response);
    });
    // The current thread dying fails what it was given; a closed thread's files were failed by close.
    started.on('error', (error) => {
      if (worker !== started) return;
      worker = undefined;
      failAll(error);
    });
    started.on('exit', (code) => {
      if (worker !== started) return;
      worker = undefined;
      failAll(new Error(`the Parquet encoding thread exited (code ${code})`));
    });
    worker = started;
    return started;
  }

  return {
    async write(fields, rows, options) {
      const id = nextId++;
      const request: EncodeRequest = { id, fields, rows, options };
      const response = await new Promise<EncodeResponse>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        const running = thread();
        running.ref();
        running.postMessage(request);
      });
      if ('error' in response) throw new Error(`Parquet encoding failed: ${response.error}`);
      return { bytes: response.bytes, stats: response.stats };
    },
    async close() {
      const running = worker;
      worker = undefined;
      if (running !== undefined) await running.terminate();
      failAll(new Error('the Parquet encoding thread was closed'));
    },
  };
}

/** The Cold sink's `writeDataFile` and `closeDataFileWriter` on a {@link threadParquetWriter}. */
export function threadedDataFiles(): {
  writeDataFile: ThreadParquetWriter['write'];
  closeDataFileWriter: () => Promise<void>;
} {
  const writer = threadParquetWriter();
  return {
    writeDataFile: (fields, rows, options) => writer.write(fields, rows, options),
    closeDataFileWriter: () => writer.close(),
  };
}
