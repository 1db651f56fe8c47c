/**
 * The Parquet encoding thread's loop: each message is one data file to write (`writeParquet`); the
 * answer carries the file's bytes (transferred, not copied) and its Iceberg metrics, or the error.
 */
import { parentPort } from 'node:worker_threads';
import type { EncodeRequest, EncodeResponse } from './threadWriter.ts';
import { writeParquet } from './writer.ts';

const port = parentPort;
if (port === null) throw new Error('encodeThreadMain.ts runs as a worker thread');
port.on('message', (request: EncodeRequest) => {
  let response: EncodeResponse;
  try {
    const { bytes, stats } = writeParquet(request.fields, request.rows, request.options);
    response = { id: request.id, bytes, stats };
    port.postMessage(response, [bytes.buffer as ArrayBuffer]);
  } catch (error) {
    response = { id: request.id, error: error instanceof Error ? error.message : String(error) };
    port.postMessage(response);
  }
});
