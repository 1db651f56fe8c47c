/**
 * A stand-in for the AWS IoT Device Shadow service (the IoT data plane's `GetThingShadow`,
 * `UpdateThingShadow`, `DeleteThingShadow`, classic and named shadows) on loopback, speaking its wire
 * protocol (restJson1: `/things/{thingName}/shadow?name=…`, the shadow document as the body, errors
 * by `x-amzn-ErrorType`) so the real `IoTDataPlaneClient` talks to it.
 *
 * It keeps the service's version semantics: each update increments `version`; an update naming a
 * version that is not the current one fails with 409 `ConflictException`; null deletes a key; the
 * document answered carries `delta`, `metadata` and the `clientToken`. The device side for tests:
 * `report()` sets reported state as a device would, `obey()` makes a thing copy desired to reported
 * after a delay. Faults: throttles, a write behind the client's back between its read and its
 * update, a forbidden thing.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Listening, NextRequests, readBody, restJsonError, sendJson, serve } from './http.ts';

type Doc = Record<string, unknown>;
type Section = 'desired' | 'reported';

/** One shadow as the service keeps it. */
interface Shadow {
  state: { desired?: Doc; reported?: Doc };
  metadata: { desired?: Doc; reported?: Doc };
  version: number;
  timestamp: number;
}

/** One UpdateThingShadow as it arrived, and how it was answered. */
export interface ShadowUpdate {
  readonly thingName: string;
  readonly shadowName?: string;
  readonly desired?: Doc | null;
  readonly reported?: Doc | null;
  readonly clientToken?: string;
  /** The version the request required, if any. */
  readonly version?: number;
  readonly status: number;
  /** The shadow's version after it, when accepted. */
  readonly newVersion?: number;
}

/** Options of the shadow stand-in. */
export interface ShadowStandInOptions {
  /** The clock of the documents' timestamps (default `Date.now`). */
  readonly now?: () => number;
}

/** The running Device Shadow stand-in: its records, the device side and its faults. */
export interface ShadowStandIn extends Listening {
  /** Every UpdateThingShadow, in order of arrival. */
  readonly updates: readonly ShadowUpdate[];
  /** How many requests arrived (all operations, refused ones too). */
  requestCount(): number;
  /** The shadow document as GetThingShadow answers it, or undefined. */
  shadow(thingName: string, shadowName?: string): Doc | undefined;
  /** The device reports state (merged into `reported`, version incremented). */
  report(thingName: string, reported: Doc, shadowName?: string): void;
  /** From now on the thing copies `desired` into `reported` `delayMs` after each desired change. */
  obey(thingName: string, delayMs: number, shadowName?: string): void;
  /** Refuses the next `n` requests with 429 `ThrottlingException`. */
  throttleNext(n: number): void;
  /**
   * Once: right after the next read of this shadow, another writer updates it (its version moves on).
   * Each call adds one more such read.
   */
  conflictAfterNextRead(thingName: string, shadowName?: string): void;
  /** Refuses every request for this thing with 403 `ForbiddenException` (a policy that excludes it). */
  forbid(thingName: string): void;
}

class ShadowError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

const MAX_BODY_BYTES = 64 * 1024;

/** Starts the Device Shadow stand-in on 127.0.0.1 and a free port. */
export async function startShadowStandIn(options: ShadowStandInOptions = {}): Promise<ShadowStandIn> {
  const seconds = () => Math.floor((options.now ?? Date.now)() / 1000);
  const shadows = new Map<string, Shadow>();
  const updates: ShadowUpdate[] = [];
  const throttles = new NextRequests();
  const obedient = new Map<string, number>();
  const conflicts = new Map<string, number>();
  const forbidden = new Set<string>();
  const timers = new Set<NodeJS.Timeout>();
  let requests = 0;

  /** Merges one section of an update into the shadow (creating it); `commit` makes it a version. */
  function apply(id: string, section: Section, patch: Doc | null): Shadow {
    const shadow = shadows.get(id) ?? { state: {}, metadata: {}, version: 0, timestamp: 0 };
    shadows.set(id, shadow);
    if (patch === null) {
      delete shadow.state[section];
      delete shadow.metadata[section];
    } else {
      shadow.state[section] ??= {};
      shadow.metadata[section] ??= {};
      merge(shadow.state[section], shadow.metadata[section], patch, seconds());
    }
    return shadow;
  }

  function commit(shadow: Shadow): Shadow {
    shadow.version++;
    shadow.timestamp = seconds();
    return shadow;
  }

  function scheduleObedience(id: string): void {
    const delay = obedient.get(id);
    if (delay === undefined) return;
    const timer = setTimeout(() => {
      timers.delete(timer);
      const desired = shadows.get(id)?.state.desired;
      if (desired) commit(apply(id, 'reported', structuredClone(desired)));
    }, delay);
    timers.add(timer);
  }

  function getShadow(id: string, res: ServerResponse): void {
    const shadow = shadows.get(id);
    if (!shadow) throw notFound(id);
    sendJson(res, 200, document(shadow));
    const pending = conflicts.get(id) ?? 0;
    if (pending > 0) {
      conflicts.set(id, pending - 1);
      commit(shadow);
    }
  }

  function updateShadow(id: string, path: ShadowPath, body: Buffer, res: ServerResponse): void {
    const request = parseUpdate(body);
    const current = shadows.get(id);
    const base = { thingName: path.thingName, ...optional(path.shadowName), ...request.record };
    if (request.version !== undefined && request.version !== current?.version) {
      updates.push({ ...base, status: 409 });
      throw new ShadowError(409, 'ConflictException', 'Version conflict');
    }
    if (request.desired !== undefined) apply(id, 'desired', request.desired);
    if (request.reported !== undefined) apply(id, 'reported', request.reported);
    const shadow = commit(shadows.get(id)!);
    updates.push({ ...base, status: 200, newVersion: shadow.version });
    sendJson(res, 200, {
      state: pick(request, (d) => d),
      metadata: pick(request, (d) => (d === null ? null : metadataOf(shadow, d))),
      version: shadow.version,
      timestamp: shadow.timestamp,
      ...(request.clientToken === undefined ? {} : { clientToken: request.clientToken }),
    });
    if (request.desired !== undefined) scheduleObedience(id);
  }

  function deleteShadow(id: string, res: ServerResponse): void {
    const shadow = shadows.get(id);
    if (!shadow) throw notFound(id);
    shadows.delete(id);
    sendJson(res, 200, { version: shadow.version, timestamp: seconds() });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    requests++;
    try {
      const body = await readBody(req, MAX_BODY_BYTES);
      if (body === undefined)
        throw new ShadowError(413, 'RequestEntityTooLargeException', 'The payload exceeds the maximum size');
      const path = parsePath(req.url ?? '/');
      if (throttles.take()) throw new ShadowError(429, 'ThrottlingException', 'Rate exceeded');
      if (forbidden.has(path.thingName)) throw new ShadowError(403, 'ForbiddenException', 'Forbidden');
      const id = shadowId(path.thingName, path.shadowName);
      if (req.method === 'GET') return getShadow(id, res);
      if (req.method === 'POST') return updateShadow(id, path, body, res);
      if (req.method === 'DELETE') return deleteShadow(id, res);
      throw new ShadowError(405, 'MethodNotAllowedException', `${req.method} is not allowed`);
    } catch (error) {
      if (!(error instanceof ShadowError)) throw error;
      restJsonError(res, error.status, error.type, error.message);
    }
  }

  const listening = await serve(handle, () => {
    for (const timer of timers) clearTimeout(timer);
  });
  return {
    ...listening,
    updates,
    requestCount: () => requests,
    shadow(thingName, shadowName) {
      const shadow = shadows.get(shadowId(thingName, shadowName));
      return shadow && document(shadow);
    },
    report(thingName, reported, shadowName) {
      commit(apply(shadowId(thingName, shadowName), 'reported', reported));
    },
    obey(thingName, delayMs, shadowName) {
      obedient.set(shadowId(thingName, shadowName), delayMs);
    },
    throttleNext: (n) => throttles.fail(n),
    conflictAfterNextRead(thingName, shadowName) {
      const id = shadowId(thingName, shadowName);
      conflicts.set(id, (conflicts.get(id) ?? 0) + 1);
    },
    forbid(thingName) {
      forbidden.add(thingName);
    },
  };
}

interface ShadowPath {
  readonly thingName: string;
  readonly shadowName?: string;
}

interface UpdateRequest {
  readonly desired?: Doc | null;
  readonly reported?: Doc | null;
  readonly version?: number;
  readonly clientToken?: string;
  readonly record: Omit<ShadowUpdate, 'thingName' | 'shadowName' | 'status' | 'newVersion'>;
}

function parsePath(url: string): ShadowPath {
  const parsed = new URL(url, 'http://standin');
  const match = /^\/things\/([^/]+)\/shadow$/.exec(parsed.pathname);
  if (!match) throw new ShadowError(404, 'ResourceNotFoundException', `No route for ${parsed.pathname}`);
  const thingName = decodeURIComponent(match[1]!);
  const shadowName = parsed.searchParams.get('name') ?? undefined;
  if (
    !/^[a-zA-Z0-9:_-]{1,128}$/.test(thingName) ||
    (shadowName !== undefined && !/^[$a-zA-Z0-9:_-]{1,64}$/.test(shadowName))
  )
    throw new ShadowError(400, 'InvalidRequestException', 'Invalid thing or shadow name');
  return { thingName, ...optional(shadowName) };
}

function parseUpdate(body: Buffer): UpdateRequest {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw invalid('Payload contains invalid json');
  }
  if (!isDoc(parsed) || !isDoc(parsed.state)) throw invalid('Missing required node: state');
  const { desired, reported } = parsed.state;
  for (const section of [desired, reported])
    if (section !== undefined && section !== null && !isDoc(section))
      throw invalid('State node must be an object');
  if (desired === undefined && reported === undefined) throw invalid('State contains an invalid node');
  const { version, clientToken } = parsed;
  if (version !== undefined && !Number.isInteger(version)) throw invalid('Invalid version');
  if (clientToken !== undefined && (typeof clientToken !== 'string' || clientToken.length > 64))
    throw invalid('Invalid clientToken');
  const fields = {
    ...(desired === undefined ? {} : { desired: desired as Doc | null }),
    ...(reported === undefined ? {} : { reported: reported as Doc | null }),
    ...(version === undefined ? {} : { version: version as number }),
    ...(clientToken === undefined ? {} : { clientToken: clientToken as string }),
  };
  return { ...fields, record: fields };
}

/** The document GetThingShadow answers: state with its delta, metadata, version, timestamp. */
function document(shadow: Shadow): Doc {
  const { desired, reported } = shadow.state;
  const delta = desired ? deltaOf(desired, reported ?? {}) : undefined;
  return {
    state: {
      ...(desired ? { desired } : {}),
      ...(reported ? { reported } : {}),
      ...(delta && Object.keys(delta).length > 0 ? { delta } : {}),
    },
    metadata: shadow.metadata,
    version: shadow.version,
    timestamp: shadow.timestamp,
  };
}

/** Merges `patch` into `state` (null deletes), stamping each leaf it sets in `metadata`. */
function merge(state: Doc, metadata: Doc, patch: Doc, ts: number): void {
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) {
      delete state[key];
      delete metadata[key];
    } else if (isDoc(value)) {
      if (!isDoc(state[key])) state[key] = {};
      if (!isDoc(metadata[key]) || 'timestamp' in (metadata[key] as Doc)) metadata[key] = {};
      merge(state[key] as Doc, metadata[key] as Doc, value, ts);
    } else {
      state[key] = value;
      metadata[key] = { timestamp: ts };
    }
  }
}

/** What desired says that reported does not (the service's `delta`). */
function deltaOf(desired: Doc, reported: Doc): Doc {
  const delta: Doc = {};
  for (const [key, want] of Object.entries(desired)) {
    const have = reported[key];
    if (isDoc(want) && isDoc(have)) {
      const inner = deltaOf(want, have);
      if (Object.keys(inner).length > 0) delta[key] = inner;
    } else if (JSON.stringify(want) !== JSON.stringify(have)) delta[key] = want;
  }
  return delta;
}

/** The metadata of the keys an update set. */
function metadataOf(shadow: Shadow, patch: Doc): Doc {
  const out: Doc = {};
  const ts = { timestamp: shadow.timestamp };
  for (const [key, value] of Object.entries(patch)) out[key] = isDoc(value) ? metadataOf(shadow, value) : ts;
  return out;
}

function pick(request: UpdateRequest, f: (d: Doc | null) => unknown): Doc {
  return {
    ...(request.desired === undefined ? {} : { desired: f(request.desired) }),
    ...(request.reported === undefined ? {} : { reported: f(request.reported) }),
  };
}

function shadowId(thingName: string, shadowName: string | undefined): string {
  return shadowName === undefined ? thingName : `${thingName}\u0000${shadowName}`;
}

function optional(shadowName: string | undefined): { shadowName?: string } {
  return shadowName === undefined ? {} : { shadowName };
}

function notFound(id: string): ShadowError {
  const [thing, name] = id.split('\u0000');
  return new ShadowError(404, 'ResourceNotFoundException', `No shadow exists with name: '${name ?? thing}'`);
}

function invalid(message: string): ShadowError {
  return new ShadowError(400, 'InvalidRequestException', message);
}

function isDoc(value: unknown): value is Doc {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
