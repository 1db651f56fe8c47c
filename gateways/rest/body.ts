/**
 * Reads a request's body within the gateway's limit. A declared length past the limit is refused
 * before a byte is read; a chunked body is cut off as soon as it passes it, so a client cannot make
 * the gateway hold more than `maxBodyBytes` for one request.
 */
import type { IncomingMessage } from 'node:http';
import { Refusal } from './messages.ts';

const tooLarge = (limit: number) =>
  new Refusal(413, 'body-too-large', `the body is larger than ${limit} bytes, the most this gateway takes`);

/** Refuses, before reading, a body with no declared length (411) or one declared too large (413). */
export function checkDeclaredLength(request: IncomingMessage, limit: number): void {
  const declared = request.headers['content-length'];
  if (declared === undefined) {
    if (request.headers['transfer-encoding'] === undefined)
      throw new Refusal(411, 'length-required', 'send Content-Length (or a chunked body)');
    return;
  }
  if (Number(declared) > limit) throw tooLarge(limit);
}

/** The whole body, or a 413 `Refusal` once it passes `limit` bytes (reading then stops). */
export function readBody(request: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const done = () => {
      request.off('data', onData);
      request.off('end', onEnd);
      request.off('error', onError);
      request.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      length += chunk.byteLength;
      if (length > limit) {
        done();
        request.pause();
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      done();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, length));
    };
    const onError = (error: Error) => {
      done();
      reject(error);
    };
    const onClose = () => {
      done();
      reject(new Error('the client closed the connection before the body ended'));
    };
    request.on('data', onData);
    request.on('end', onEnd);
    request.on('error', onError);
    request.on('close', onClose);
  });
}
