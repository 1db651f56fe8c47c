/**
 * What the stand-ins share: an HTTP server on 127.0.0.1 and a free port, reading a request body with a
 * size cap, the error shapes of the JSON protocols (restJson1 and awsJson1_0), and the counter behind
 * every "fail the next N requests" fault.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

/** A stand-in's address and how to stop it. */
export interface Listening {
  readonly endpoint: string;
  stop(): Promise<void>;
}

/** Answers one request; whatever it throws becomes a 500 answer, never a crash of the server. */
export type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/** Serves `handler` on 127.0.0.1 and a free port; `onStop` runs before the server closes. */
export function serve(handler: Handler, onStop: () => void = () => {}): Promise<Listening> {
  const server = createServer((req, res) => {
    handler(req, res).catch((error: unknown) => {
      if (res.headersSent) return res.destroy();
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`stand-in failed: ${(error as Error).message}`);
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (!address || typeof address === 'string') return reject(new Error('stand-in has no TCP address'));
      const stop = () =>
        new Promise<void>((done) => {
          onStop();
          // SDK clients keep connections alive; without this close() would wait for them to time out.
          server.closeAllConnections();
          server.close(() => done());
        });
      resolve({ endpoint: `http://127.0.0.1:${address.port}`, stop });
    });
  });
}

/**
 * The request body, or undefined when it is longer than `limit` bytes (read to its end all the same,
 * so the client gets the error answer rather than a reset connection).
 */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    length += chunk.length;
    if (length <= limit) chunks.push(chunk);
  }
  return length > limit ? undefined : Buffer.concat(chunks);
}

/** A JSON answer with the request id header every AWS service sends. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  contentType = 'application/json',
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': contentType,
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': randomUUID(),
  });
  res.end(text);
}

/** A restJson1 error: the SDK picks the exception class from `x-amzn-ErrorType`. */
export function restJsonError(
  res: ServerResponse,
  status: number,
  type: string,
  message: string,
  extra: Record<string, unknown> = {},
): void {
  res.setHeader('x-amzn-errortype', type);
  sendJson(res, status, { message, ...extra });
}

/** An awsJson1_0 error: the SDK picks the exception class from `__type`. */
export function awsJsonError(res: ServerResponse, status: number, type: string, message: string): void {
  sendJson(res, status, { __type: type, message }, 'application/x-amz-json-1.0');
}

/** The count behind "fail the next N requests". */
export class NextRequests {
  private left = 0;

  /** Fails the next `n` requests (added to any still pending). */
  fail(n: number): void {
    this.left += n;
  }

  /** True when this request is one of those to fail. */
  take(): boolean {
    if (this.left <= 0) return false;
    this.left--;
    return true;
  }
}
