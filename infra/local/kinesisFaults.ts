/**
 * An HTTP proxy in front of kinesalite that injects the Kinesis faults a producer must survive and
 * kinesalite cannot be told to produce: throttled PutRecords requests, per-entry failures, and a
 * stream that stops answering. A fake only in that sense: every record it reports put was put by
 * kinesalite, every other operation is kinesalite's own answer, unchanged.
 *
 * - `throttleRate`: that share of PutRecords requests is answered `400
 *   ProvisionedThroughputExceededException` as a whole, and nothing of it reaches kinesalite.
 * - `entryFailureRate`: that share of a PutRecords request's entries is failed
 *   (`ProvisionedThroughputExceededException` or `InternalFailure`); only the others are forwarded,
 *   and kinesalite's results are merged back in position, so a failed entry is truly not in the stream.
 * - `stalled`: every request (any operation) is held unanswered until unstalled, then forwarded. A
 *   request whose client gave up meanwhile is dropped, never forwarded late: the client already
 *   counted it failed, and a late put would land a record it will put again.
 *
 * The SDK v3 Kinesis client speaks JSON 1.1 (`application/x-amz-json-1.1`); a CBOR request
 * (`application/x-amz-cbor-1.1`, the Java SDK's default) passes through without faults.
 */
import { Agent, createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import { seededRandom } from './seeded.ts';

/** The faults injected from now on. */
export interface KinesisFaults {
  /** Share (0..1) of PutRecords entries failed one by one. */
  readonly entryFailureRate?: number;
  /** Share (0..1) of PutRecords requests throttled as a whole. */
  readonly throttleRate?: number;
  /** Holds every request unanswered while true. */
  readonly stalled?: boolean;
}

/** What the proxy did so far. */
export interface KinesisFaultStats {
  /** Requests received (all operations). */
  readonly requests: number;
  /** PutRecords entries failed (never forwarded). */
  readonly entriesFailed: number;
  /** PutRecords requests throttled as a whole. */
  readonly throttled: number;
  /** Requests held while stalled. */
  readonly stalledRequests: number;
}

/** A running proxy. */
export interface KinesisFaultProxy {
  /** `http://127.0.0.1:P`, for the Kinesis client's `endpoint`. */
  readonly endpoint: string;
  set(faults: KinesisFaults): void;
  stats(): KinesisFaultStats;
  close(): Promise<void>;
}

/** Where the proxy forwards, and the seed of its choices (the same seed fails the same entries). */
export interface KinesisFaultProxyOptions {
  /** kinesalite's endpoint, `http://127.0.0.1:P`. */
  readonly target: string;
  readonly seed?: number;
}

const PUT_RECORDS = 'Kinesis_20131202.PutRecords';
const JSON_TYPE = 'application/x-amz-json-1.1';
const ACCOUNT = '000000000000';

interface PutRecordsEntry {
  readonly PartitionKey?: string;
  readonly [field: string]: unknown;
}

interface PutRecordsBody {
  readonly StreamName?: string;
  readonly Records?: PutRecordsEntry[];
  readonly [field: string]: unknown;
}

interface EntryResult {
  readonly [field: string]: unknown;
}

interface Upstream {
  readonly status: number;
  readonly headers: IncomingMessage['headers'];
  readonly body: Buffer;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function answer(
  res: ServerResponse,
  status: number,
  headers: IncomingMessage['headers'],
  body: Buffer,
): void {
  if (res.destroyed) return;
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (
      value === undefined ||
      name === 'content-length' ||
      name === 'transfer-encoding' ||
      name === 'connection'
    )
      continue;
    out[name] = value;
  }
  out['content-length'] = String(body.length);
  res.writeHead(status, out);
  res.end(body);
}

function answerJson(res: ServerResponse, status: number, value: unknown): void {
  answer(res, status, { 'content-type': JSON_TYPE }, Buffer.from(JSON.stringify(value)));
}

/** Starts the proxy on 127.0.0.1 and a free port. */
export async function startKinesisFaultProxy(options: KinesisFaultProxyOptions): Promise<KinesisFaultProxy> {
  const target = new URL(options.target);
  const random = seededRandom(options.seed ?? 1);
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  let faults: Required<KinesisFaults> = { entryFailureRate: 0, throttleRate: 0, stalled: false };
  let held: Array<() => void> = [];
  const counts = { requests: 0, entriesFailed: 0, throttled: 0, stalledRequests: 0 };

  const forward = (req: IncomingMessage, body: Buffer): Promise<Upstream> =>
    new Promise((resolve, reject) => {
      const headers = { ...req.headers, host: target.host, 'content-length': String(body.length) };
      const up = request(
        { host: target.hostname, port: target.port, path: req.url, method: req.method, headers, agent },
        (res) => {
          readBody(res).then(
            (b) => resolve({ status: res.statusCode ?? 502, headers: res.headers, body: b }),
            reject,
          );
        },
      );
      up.on('error', reject);
      up.end(body);
    });

  const passThrough = async (req: IncomingMessage, res: ServerResponse, body: Buffer) => {
    const up = await forward(req, body);
    answer(res, up.status, up.headers, up.body);
  };

  const putRecords = async (req: IncomingMessage, res: ServerResponse, body: Buffer) => {
    let parsed: PutRecordsBody;
    try {
      parsed = JSON.parse(body.toString('utf8')) as PutRecordsBody;
    } catch {
      return passThrough(req, res, body); // kinesalite answers the malformed request itself
    }
    const entries = parsed.Records;
    if (!Array.isArray(entries) || entries.length === 0) return passThrough(req, res, body);
    const stream = parsed.StreamName ?? 'unknown';
    if (random() < faults.throttleRate) {
      counts.throttled++;
      return answerJson(res, 400, {
        __type: 'ProvisionedThroughputExceededException',
        message: `Rate exceeded for shard shardId-000000000000 in stream ${stream} under account ${ACCOUNT}.`,
      });
    }
    const failed = entries.map(() => random() < faults.entryFailureRate);
    const kept = entries.filter((_, i) => !failed[i]);
    let keptResults: EntryResult[] = [];
    if (kept.length > 0) {
      const up = await forward(req, Buffer.from(JSON.stringify({ ...parsed, Records: kept })));
      if (up.status !== 200) return answer(res, up.status, up.headers, up.body);
      const reply = JSON.parse(up.body.toString('utf8')) as { Records?: EntryResult[]; [f: string]: unknown };
      keptResults = reply.Records ?? [];
    }
    let next = 0;
    let failedCount = 0;
    const results = entries.map((_, i): EntryResult => {
      if (!failed[i]) {
        const result = keptResults[next++] ?? {};
        if (result.ErrorCode !== undefined) failedCount++;
        return result;
      }
      failedCount++;
      counts.entriesFailed++;
      return random() < 0.5
        ? {
            ErrorCode: 'ProvisionedThroughputExceededException',
            ErrorMessage: `Rate exceeded for shard shardId-000000000000 in stream ${stream} under account ${ACCOUNT}.`,
          }
        : { ErrorCode: 'InternalFailure', ErrorMessage: 'Internal service failure.' };
    });
    answerJson(res, 200, { FailedRecordCount: failedCount, Records: results });
  };

  const handle = (req: IncomingMessage, res: ServerResponse, body: Buffer) => {
    const isPutRecords =
      req.headers['x-amz-target'] === PUT_RECORDS &&
      (req.headers['content-type'] ?? '').startsWith(JSON_TYPE);
    (isPutRecords ? putRecords(req, res, body) : passThrough(req, res, body)).catch((error: Error) => {
      answerJson(res, 502, { __type: 'ProxyError', message: error.message });
    });
  };

  const server = createServer((req, res) => {
    counts.requests++;
    readBody(req).then(
      (body) => {
        if (!faults.stalled) return handle(req, res, body);
        counts.stalledRequests++;
        held.push(() => {
          if (!res.destroyed && !res.socket?.destroyed) handle(req, res, body);
        });
      },
      () => res.destroy(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    set(next) {
      faults = { ...faults, ...next };
      if (!faults.stalled && held.length > 0) {
        const release = held;
        held = [];
        for (const go of release) go();
      }
    },
    stats: () => ({ ...counts }),
    close: () =>
      new Promise<void>((resolve) => {
        held = [];
        server.closeAllConnections();
        agent.destroy();
        server.close(() => resolve());
      }),
  };
}
