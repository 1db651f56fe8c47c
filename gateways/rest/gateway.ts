/**
 * The REST gateway: devices and partner systems POST telemetry, and get `202` only once every record
 * of their request is in the stream. When the ingest buffer is full the answer is `429` with
 * `Retry-After` and nothing of the request was taken; a request whose records are not durable within
 * `ackTimeoutMs` gets `503` (they may still land: a retry may duplicate them, at least once).
 *
 * Routes and checks are in `messages.ts`, body limits in `body.ts`, callers in `auth.ts`.
 */
import { readFileSync } from 'node:fs';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Clock, Logger } from '../../topology/index.ts';
import type { DurableIngest, IngestRecord } from '../ingest/durableIngest.ts';
import { devicePartitionKey, deviceTopic, envelopeBytes, envelopeOf } from '../ingest/envelope.ts';
import { PUT_RECORDS_LIMITS } from '../kinesis/producer.ts';
import { answer, retryAfter } from './answers.ts';
import { type Authenticator, authenticator, parseApiKeys } from './auth.ts';
import { checkDeclaredLength, readBody } from './body.ts';
import type { RestGatewayConfig } from './config.ts';
import { batchMessages, type Message, productOf, Refusal, routeOf } from './messages.ts';

/** What the REST gateway needs. */
export interface RestGatewayOptions {
  readonly config: RestGatewayConfig;
  readonly ingest: DurableIngest;
  readonly clock: Clock;
  readonly log?: Logger;
  /** Where `auth.apiKeysEnv` is looked up; `process.env` when absent. */
  readonly env?: NodeJS.ProcessEnv;
  /** Closes the gateway when it aborts. */
  readonly signal?: AbortSignal;
}

/** A running REST gateway. */
export interface RestGateway {
  /** The bound address and port (the port chosen when the configuration said 0). */
  readonly address: string;
  readonly port: number;
  /** Whether it listens, is not closing and the stream answers (`/readyz`). */
  ready(): boolean;
  /** Counters for `/metrics`. */
  stats(): Record<string, number>;
  /** Stops accepting, lets in-flight requests finish (at most `closeTimeoutMs`), then closes. */
  close(): Promise<void>;
}

const COUNTERS = [
  'connections',
  'connectionsOpen',
  'requests',
  'requestsInFlight',
  'messages',
  'acknowledged',
  'refused',
  'malformed',
  'unauthorized',
  'notFound',
  'tooLarge',
  'unsupported',
  'ackTimeouts',
  'closingRefused',
  'clientErrors',
  'failed',
] as const;

const TOO_LARGE_RECORD = PUT_RECORDS_LIMITS.recordBytes;

/** The authenticator the configuration asks for; throws when the keys' variable is missing. */
function authOf(config: RestGatewayConfig, env: NodeJS.ProcessEnv, log: Logger | undefined): Authenticator {
  if (config.auth === 'none') {
    log?.warn({ gateway: 'rest' }, 'the REST gateway runs without authentication (auth: none)');
    return authenticator(undefined, false);
  }
  const { apiKeysEnv, mtls } = config.auth;
  const keys = apiKeysEnv === undefined ? undefined : parseApiKeys(env[apiKeysEnv], apiKeysEnv);
  return authenticator(keys, mtls !== undefined);
}

function serverOf(
  config: RestGatewayConfig,
  handler: (rq: IncomingMessage, rs: ServerResponse) => void,
): Server {
  const timeouts = {
    headersTimeout: Math.min(config.headersTimeoutMs, config.requestTimeoutMs),
    requestTimeout: config.requestTimeoutMs,
    keepAliveTimeout: config.keepAliveTimeoutMs,
    // Node checks the two timeouts only this often (30 s by default).
    connectionsCheckingInterval: Math.max(100, Math.min(1_000, Math.floor(config.headersTimeoutMs / 2))),
  };
  const mtls = config.auth === 'none' ? undefined : config.auth.mtls;
  const server =
    mtls === undefined
      ? createHttpServer(timeouts, handler)
      : createHttpsServer(
          {
            ...timeouts,
            cert: readFileSync(mtls.certFile),
            key: readFileSync(mtls.keyFile),
            ca: readFileSync(mtls.caFile),
            requestCert: true,
            rejectUnauthorized: true,
          },
          handler,
        );
  server.keepAliveTimeout = config.keepAliveTimeoutMs;
  server.maxRequestsPerSocket = config.maxRequestsPerSocket;
  return server;
}

/** Starts the REST gateway; resolves once it listens. */
export async function startRestGateway(options: RestGatewayOptions): Promise<RestGateway> {
  const { config, ingest, clock, log } = options;
  const auth = authOf(config, options.env ?? process.env, log);
  const counts = Object.fromEntries(COUNTERS.map((c) => [c, 0])) as Record<(typeof COUNTERS)[number], number>;
  const sockets = new Set<Socket>();
  let closing = false;
  let listening = false;
  let closed: Promise<void> | undefined;
  let idle: (() => void) | undefined;

  /** The envelope's record of a message, refused when Kinesis could not hold it. */
  const recordOf = (message: Message, caller: string, now: number): IngestRecord => {
    const envelope = envelopeOf({
      protocol: 'rest',
      topic: deviceTopic(message.deviceId, message.hubId),
      source: `rest:${caller}`,
      productId: message.productId,
      receivedAt: message.receivedAt ?? now,
      payload: message.payload,
    });
    const partitionKey = devicePartitionKey(envelope);
    const data = envelopeBytes(envelope);
    if (data.byteLength + Buffer.byteLength(partitionKey) > TOO_LARGE_RECORD)
      throw new Refusal(
        413,
        'record-too-large',
        `a message of device ${message.deviceId} makes a record of ${data.byteLength} bytes; a stream record holds at most ${TOO_LARGE_RECORD}`,
      );
    return { partitionKey, data };
  };

  /**
   * Offers every record or none: refused (429) only when the first is, that is before anything was
   * taken. Once the first is in, the rest wait for room (`put`) rather than leave the request half
   * taken; only one request at a time can be in that state, as the next one finds no room.
   */
  const admit = (records: readonly IngestRecord[]): Promise<void>[] => {
    const first = ingest.offer(records[0]!);
    if (!first.accepted)
      throw first.reason === 'full'
        ? Object.assign(new Refusal(429, 'busy', 'the gateway is buffering all it may; retry later'), {
            retryAfterMs: first.retryAfterMs,
          })
        : Object.assign(new Refusal(503, 'closing', 'the gateway is shutting down; retry elsewhere'), {
            retryAfterMs: first.retryAfterMs,
          });
    const durables = [first.durable];
    for (let i = 1; i < records.length; i++) {
      const admission = ingest.offer(records[i]!);
      durables.push(admission.accepted ? admission.durable : ingest.put(records[i]!));
    }
    return durables;
  };

  /** Resolves to `durable` when every record is, or to `timeout`; rejects if the ingest gave up. */
  const durableWithin = async (durables: Promise<void>[]): Promise<'durable' | 'timeout'> => {
    const deadline = new AbortController();
    try {
      return await Promise.race([
        Promise.all(durables).then(() => 'durable' as const),
        clock.sleep(config.ackTimeoutMs, deadline.signal).then(
          () => 'timeout' as const,
          () => 'durable' as const,
        ),
      ]);
    } finally {
      deadline.abort();
    }
  };

  async function serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (closing) throw new Refusal(503, 'closing', 'the gateway is shutting down; retry elsewhere');
    const caller = auth.identify(request);
    if ('refused' in caller) throw new Refusal(401, 'unauthorized', caller.refused);
    const url = request.url ?? '/';
    const q = url.indexOf('?');
    const route = routeOf(q === -1 ? url : url.slice(0, q));
    if (route.kind === 'unknown')
      throw new Refusal(
        404,
        'not-found',
        'POST /v1/devices/{id}/telemetry, /v1/devices/{hub}/child/{id}/telemetry or /v1/telemetry:batch',
      );
    if (request.method !== 'POST')
      throw new Refusal(405, 'method-not-allowed', `${request.method} is not allowed here; use POST`);
    const coding = request.headers['content-encoding'];
    if (coding !== undefined && coding.toLowerCase() !== 'identity')
      throw new Refusal(
        415,
        'unsupported-encoding',
        `Content-Encoding ${coding} is not supported; send the body as is`,
      );
    const type = request.headers['content-type'];
    if (
      route.kind === 'batch' &&
      type !== undefined &&
      !/^application\/([\w.+-]*\+)?json\s*(;|$)/i.test(type)
    )
      throw new Refusal(415, 'unsupported-media-type', 'a batch is JSON: send Content-Type application/json');
    const query = new URLSearchParams(q === -1 ? '' : url.slice(q + 1));
    const productId =
      route.kind === 'telemetry' ? productOf(query, request.headers[config.productHeader]) : undefined;
    checkDeclaredLength(request, config.maxBodyBytes);
    const body = await readBody(request, config.maxBodyBytes);
    let messages: Message[];
    if (route.kind === 'batch') messages = batchMessages(body, config.maxBatchMessages);
    else {
      if (body.byteLength === 0) throw new Refusal(400, 'empty-payload', 'the body (the payload) is empty');
      messages = [{ deviceId: route.deviceId, hubId: route.hubId, productId, payload: body }];
    }
    const now = clock.now();
    const records = messages.map((m) => recordOf(m, caller.name, now));
    const durables = admit(records);
    counts.messages += records.length;
    let outcome: 'durable' | 'timeout';
    try {
      outcome = await durableWithin(durables);
    } catch (error) {
      log?.warn(
        { gateway: 'rest', records: records.length, error: (error as Error).message },
        'records not put',
      );
      throw new Refusal(503, 'closing', 'the gateway closed before the records were put; send them again');
    }
    if (outcome === 'timeout') {
      counts.ackTimeouts++;
      throw Object.assign(
        new Refusal(
          503,
          'not-durable-yet',
          `the records were not in the stream within ${config.ackTimeoutMs} ms; they may still land, send them again`,
        ),
        { retryAfterMs: config.ackTimeoutMs },
      );
    }
    counts.acknowledged += records.length;
    answer(response, 202, { accepted: records.length });
  }

  const countRefusal = (refusal: Refusal) => {
    if (refusal.status === 429) counts.refused++;
    else if (refusal.status === 400) counts.malformed++;
    else if (refusal.status === 401) counts.unauthorized++;
    else if (refusal.status === 404 || refusal.status === 405) counts.notFound++;
    else if (refusal.status === 411 || refusal.status === 413) counts.tooLarge++;
    else if (refusal.status === 415) counts.unsupported++;
    else if (refusal.status === 503 && refusal.code === 'closing') counts.closingRefused++;
  };

  const refuse = (request: IncomingMessage, response: ServerResponse, error: unknown) => {
    if (!(error instanceof Refusal)) {
      counts.failed++;
      log?.error({ gateway: 'rest', error: (error as Error)?.message, url: request.url }, 'request failed');
      if (!request.complete) response.setHeader('connection', 'close');
      answer(response, 500, { error: 'internal', message: 'the gateway failed to take the request' });
      return;
    }
    countRefusal(error);
    const headers: Record<string, string> = {};
    if (error.status === 401) headers['www-authenticate'] = auth.challenge;
    if (error.status === 405) headers.allow = 'POST';
    const wait = (error as { retryAfterMs?: number }).retryAfterMs;
    if (error.status === 429 || error.status === 503) headers['retry-after'] = retryAfter(wait ?? 1_000);
    // An unread body would otherwise be read to its end to keep the connection.
    if (!request.complete || closing) headers.connection = 'close';
    log?.debug({ gateway: 'rest', status: error.status, code: error.code, url: request.url }, error.message);
    answer(response, error.status, { error: error.code, message: error.message }, headers);
  };

  const handle = (request: IncomingMessage, response: ServerResponse) => {
    counts.requests++;
    counts.requestsInFlight++;
    serve(request, response)
      .catch((error: unknown) => refuse(request, response, error))
      .finally(() => {
        counts.requestsInFlight--;
        if (closing && counts.requestsInFlight === 0) idle?.();
      });
  };

  const server = serverOf(config, handle);
  server.on('connection', (socket: Socket) => {
    counts.connections++;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('clientError', (error: Error & { code?: string }, socket: Socket) => {
    counts.clientErrors++;
    log?.debug(
      { gateway: 'rest', code: error.code, error: error.message },
      'malformed request or slow client',
    );
    if (!socket.writable) return socket.destroy();
    const status =
      error.code === 'HPE_HEADER_OVERFLOW'
        ? '431 Request Header Fields Too Large'
        : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? '408 Request Timeout'
          : '400 Bad Request';
    const body = JSON.stringify({
      error: 'bad-request',
      message: `malformed HTTP request (${error.code ?? 'error'})`,
    });
    socket.end(
      `HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  });
  // TLS handshakes that fail (no or a bad client certificate) are logged, never thrown.
  server.on('tlsClientError', (error: Error) => {
    counts.unauthorized++;
    log?.debug({ gateway: 'rest', error: error.message }, 'TLS handshake refused');
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (error) => log?.error({ gateway: 'rest', error: error.message }, 'server error'));
  listening = true;
  const bound = server.address() as AddressInfo;
  log?.info(
    {
      gateway: 'rest',
      address: bound.address,
      port: bound.port,
      tls: config.auth !== 'none' && config.auth.mtls !== undefined,
    },
    'REST gateway listening',
  );

  const close = (): Promise<void> => {
    closed ??= (async () => {
      closing = true;
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      if (counts.requestsInFlight > 0) {
        const drained = new Promise<void>((resolve) => {
          idle = resolve;
        });
        const deadline = new AbortController();
        await Promise.race([drained, clock.sleep(config.closeTimeoutMs, deadline.signal).catch(() => {})]);
        deadline.abort();
      }
      server.closeAllConnections();
      for (const socket of sockets) socket.destroy();
      await stopped;
      listening = false;
      log?.info({ gateway: 'rest', ...counts }, 'REST gateway closed');
    })();
    return closed;
  };
  options.signal?.addEventListener('abort', () => void close(), { once: true });

  return {
    address: bound.address,
    port: bound.port,
    ready: () => listening && !closing && ingest.reachable,
    stats: () => ({ ...counts, connectionsOpen: sockets.size }),
    close,
  };
}
