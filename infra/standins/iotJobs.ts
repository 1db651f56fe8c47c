/**
 * A stand-in for the AWS IoT control plane's jobs (`CreateJob`: `PUT /jobs/{jobId}`, `DescribeJob`:
 * `GET /jobs/{jobId}`) on loopback, speaking its wire protocol (restJson1, errors by
 * `x-amzn-ErrorType`) so the real `IoTClient` talks to it. A job id is unique: creating it again
 * fails with 409 `ResourceAlreadyExistsException`, as it does on AWS. It records each job as
 * requested and counts requests; the fault it injects is throttling.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Listening, NextRequests, readBody, restJsonError, sendJson, serve } from './http.ts';

/** A job as CreateJob stored it. */
export interface IotJob {
  readonly jobId: string;
  readonly jobArn: string;
  readonly targets: readonly string[];
  readonly document: string;
  readonly description?: string;
  readonly targetSelection: string;
  readonly jobExecutionsRolloutConfig?: Readonly<Record<string, unknown>>;
  readonly abortConfig?: Readonly<Record<string, unknown>>;
  readonly timeoutConfig?: Readonly<Record<string, unknown>>;
  /** Epoch seconds. */
  readonly createdAt: number;
}

/** Options of the IoT jobs stand-in. */
export interface IotJobsStandInOptions {
  readonly region?: string;
  readonly accountId?: string;
}

/** The running IoT jobs stand-in: its records and its fault. */
export interface IotJobsStandIn extends Listening {
  /** Every job created, in order. */
  readonly jobs: readonly IotJob[];
  /** How many CreateJob requests arrived (refused ones too). */
  createRequestCount(): number;
  /** Refuses the next `n` requests with `ThrottlingException` (HTTP 400, as IoT's model says). */
  throttleNext(n: number): void;
}

class IotError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

const MAX_DOCUMENT_BYTES = 32_768;

/** Starts the IoT jobs stand-in on 127.0.0.1 and a free port. */
export async function startIotJobsStandIn(options: IotJobsStandInOptions = {}): Promise<IotJobsStandIn> {
  const arnPrefix = `arn:aws:iot:${options.region ?? 'eu-west-1'}:${options.accountId ?? '123456789012'}:job/`;
  const jobs: IotJob[] = [];
  const byId = new Map<string, IotJob>();
  const throttles = new NextRequests();
  let createRequests = 0;

  function createJob(jobId: string, body: Buffer, res: ServerResponse): void {
    const request = parseCreate(body);
    const existing = byId.get(jobId);
    if (existing)
      throw new IotError(409, 'ResourceAlreadyExistsException', `Job ${jobId} already exists`, {
        resourceId: jobId,
        resourceArn: existing.jobArn,
      });
    const job: IotJob = { ...request, jobId, jobArn: `${arnPrefix}${jobId}`, createdAt: Date.now() / 1000 };
    jobs.push(job);
    byId.set(jobId, job);
    sendJson(res, 200, {
      jobArn: job.jobArn,
      jobId,
      ...(job.description ? { description: job.description } : {}),
    });
  }

  function describeJob(jobId: string, res: ServerResponse): void {
    const job = byId.get(jobId);
    if (!job) throw new IotError(404, 'ResourceNotFoundException', `Job ${jobId} does not exist`);
    const { document: _document, createdAt, ...rest } = job;
    sendJson(res, 200, {
      job: { ...rest, status: 'IN_PROGRESS', createdAt, lastUpdatedAt: createdAt },
    });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const body = await readBody(req, 2 * MAX_DOCUMENT_BYTES);
      if (body === undefined) throw invalid('The request is too large');
      const match = /^\/jobs\/([^/?]+)(?:\?.*)?$/.exec(req.url ?? '');
      if (!match) throw new IotError(404, 'ResourceNotFoundException', `No route for ${req.url}`);
      if (req.method === 'PUT') createRequests++;
      if (throttles.take()) throw new IotError(400, 'ThrottlingException', 'Rate exceeded');
      const jobId = decodeURIComponent(match[1]!);
      if (!/^[a-zA-Z0-9_-]{1,64}$/.test(jobId)) throw invalid(`Invalid jobId: ${jobId}`);
      if (req.method === 'PUT') return createJob(jobId, body, res);
      if (req.method === 'GET') return describeJob(jobId, res);
      throw new IotError(405, 'MethodNotAllowedException', `${req.method} is not allowed`);
    } catch (error) {
      if (!(error instanceof IotError)) throw error;
      restJsonError(res, error.status, error.type, error.message, error.extra);
    }
  }

  const listening = await serve(handle);
  return {
    ...listening,
    jobs,
    createRequestCount: () => createRequests,
    throttleNext: (n) => throttles.fail(n),
  };
}

/** The stored fields of a CreateJob body, checked as IoT checks them. */
function parseCreate(body: Buffer): Omit<IotJob, 'jobId' | 'jobArn' | 'createdAt'> {
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
  } catch {
    throw invalid('The request body is not valid JSON');
  }
  const { targets, document, description, targetSelection } = parsed;
  if (!Array.isArray(targets) || targets.length === 0 || !targets.every((t) => typeof t === 'string'))
    throw invalid('targets must be a non-empty list of ARNs');
  if (typeof document !== 'string') throw invalid('document or documentSource is required');
  if (Buffer.byteLength(document) > MAX_DOCUMENT_BYTES) throw invalid('The job document is too large');
  if (targetSelection !== undefined && targetSelection !== 'SNAPSHOT' && targetSelection !== 'CONTINUOUS')
    throw invalid(`Invalid targetSelection: ${String(targetSelection)}`);
  const configs = ['jobExecutionsRolloutConfig', 'abortConfig', 'timeoutConfig'] as const;
  const stored: Record<string, unknown> = {};
  for (const name of configs) if (parsed[name] !== undefined) stored[name] = parsed[name];
  return {
    targets,
    document,
    targetSelection: (targetSelection as string | undefined) ?? 'SNAPSHOT',
    ...(typeof description === 'string' ? { description } : {}),
    ...stored,
  };
}

function invalid(message: string): IotError {
  return new IotError(400, 'InvalidRequestException', message);
}
