/**
 * The alarm vocabulary every stage shares: an *episode* is one occurrence of an alarm of a rule on a
 * target (raised, maybe acknowledged, cleared, closed), and its history is a sequence of *alarm
 * events*, numbered 1, 2, … per episode. Each event carries the episode as it stands after the event,
 * so the history alone rebuilds every episode (`rebuildEpisodes`) and a store can keep the current
 * state with a forward-only upsert on `lastEventSeq`.
 *
 * Ids are deterministic: an episode's id is a hash of its rule, its target and the event time of the
 * reading that raised it, an event's id is its episode's id and its number, so a replay yields the
 * same ids and a store that keys on them writes nothing new.
 */
import { createHash } from 'node:crypto';
import type { RawRecord } from './records.ts';

/** The five severities, lowest first: a rank is an index into this list. */
export const SEVERITIES = ['info', 'warning', 'minor', 'major', 'critical'] as const;

/** How serious an alarm is; ordered by {@link SEVERITIES}. */
export type Severity = (typeof SEVERITIES)[number];

/** What a rule watches: one device, a hub (and its children), a site or a customer. */
export type AlarmTargetKind = 'device' | 'hub' | 'site' | 'customer';

/** The thing an episode is about. */
export interface AlarmTarget {
  readonly kind: AlarmTargetKind;
  readonly id: string;
}

/** What happened to an episode. */
export const ALARM_EVENT_KINDS = [
  'raise',
  'update',
  'severity',
  'acknowledge',
  'assign',
  'comment',
  'clear',
  'shelve',
  'unshelve',
  'latch',
  'close',
] as const;

/** One of {@link ALARM_EVENT_KINDS}. */
export type AlarmEventKind = (typeof ALARM_EVENT_KINDS)[number];

/** Whether the condition holds now (`active`) or no longer (`cleared`). */
export type AlarmStatus = 'active' | 'cleared';

/** The rule an alarm belongs to and the target it is about. */
export interface AlarmSubject {
  readonly ruleId: string;
  readonly rulesetVersion: number;
  readonly target: AlarmTarget;
  readonly productId: string | null;
  readonly customerId: string | null;
  readonly siteId: string | null;
  readonly deviceId: string | null;
}

/** One occurrence of an alarm of a rule on a target, as it stands after its `lastEventSeq`-th event. */
export interface Episode extends AlarmSubject {
  readonly id: string;
  readonly severity: Severity;
  readonly status: AlarmStatus;
  readonly acknowledged: boolean;
  /** Needs an acknowledgement to close: stays open, cleared, until someone acknowledges it. */
  readonly latched: boolean;
  readonly assignee: string | null;
  /** Shelved (no notifications) until this time (epoch ms); null when not shelved. */
  readonly shelvedUntil: number | null;
  /** Event time of the raising reading (epoch ms). */
  readonly openedAt: number;
  readonly clearedAt: number | null;
  /** Set when the episode ends; a closed episode never changes again. */
  readonly closedAt: number | null;
  readonly lastEventSeq: number;
  /** Time of the last event (epoch ms). */
  readonly updatedAt: number;
  /** Changing state too often: notifications are suppressed until it is stable again. */
  readonly flapping: boolean;
  /** The value that last made the condition true. */
  readonly value: number | null;
  readonly message: string;
}

/** One entry of an episode's history. */
export interface AlarmEvent {
  /** `episodeId/seq`: deterministic, the history's primary key. */
  readonly id: string;
  readonly episodeId: string;
  /** 1 for the raise, then one more per event of the episode. */
  readonly seq: number;
  readonly kind: AlarmEventKind;
  /** When it happened: event time for the condition side, the action's time for people. */
  readonly at: number;
  /** Who did it (people's actions); null for the rule's own events. */
  readonly by: string | null;
  /** A comment's text, an assignee, or a short reason. */
  readonly note: string | null;
  /** Whether a notification should go out for this event. */
  readonly notify: boolean;
  /** True when it would have notified but the episode is shelved or flapping. */
  readonly suppressed: boolean;
  /** The episode after this event. */
  readonly episode: Episode;
}

/** The rank of a severity: 0 (info) to 4 (critical). */
export function severityRank(severity: Severity): number {
  return SEVERITIES.indexOf(severity);
}

/**
 * The platform's severity of a product's severity rank: a ruleset names five severities of its own,
 * lowest first, and the one at rank r is the platform's `SEVERITIES[r]`.
 */
export function platformSeverity(rank: number): Severity {
  return SEVERITIES[Math.min(Math.max(rank, 0), SEVERITIES.length - 1)]!;
}

/** True for a known severity name. */
export function isSeverity(value: string): value is Severity {
  return (SEVERITIES as readonly string[]).includes(value);
}

/** True while an episode has not closed. */
export function isOpen(episode: Episode): boolean {
  return episode.closedAt === null;
}

/** True when the episode is shelved at `at`. */
export function isShelved(episode: Pick<Episode, 'shelvedUntil'>, at: number): boolean {
  return episode.shelvedUntil !== null && at < episode.shelvedUntil;
}

/** The key of a (rule, target) pair: at most one open episode per key. */
export function alarmKey(ruleId: string, target: AlarmTarget): string {
  return `${ruleId}\u0001${target.kind}\u0001${target.id}`;
}

/**
 * An episode's id: the first 32 hex digits of the SHA-256 of the rule, the target and the event time
 * of the raising reading. The same inputs give the same id after any replay.
 */
export function episodeId(ruleId: string, target: AlarmTarget, raisedAt: number): string {
  return createHash('sha256')
    .update(`${alarmKey(ruleId, target)}\u0001${raisedAt}`, 'utf8')
    .digest('hex')
    .slice(0, 32);
}

/** An event's id: its episode's id and its number. */
export function alarmEventId(episode: string, seq: number): string {
  return `${episode}/${seq}`;
}

/**
 * The current state of every episode in `events`: the episode of each one's highest-numbered event
 * (events may come in any order and more than once). Gaps in the numbering are reported, not hidden:
 * an episode whose history misses an event is left out of `episodes` and named in `gaps`.
 */
export function rebuildEpisodes(events: Iterable<AlarmEvent>): {
  episodes: Map<string, Episode>;
  gaps: string[];
} {
  const latest = new Map<string, AlarmEvent>();
  const seen = new Map<string, Set<number>>();
  for (const e of events) {
    const current = latest.get(e.episodeId);
    if (current === undefined || current.seq < e.seq) latest.set(e.episodeId, e);
    const seqs = seen.get(e.episodeId) ?? new Set<number>();
    seqs.add(e.seq);
    seen.set(e.episodeId, seqs);
  }
  const episodes = new Map<string, Episode>();
  const gaps: string[] = [];
  for (const [id, e] of latest) {
    if (seen.get(id)!.size !== e.seq) gaps.push(id);
    else episodes.set(id, e.episode);
  }
  return { episodes, gaps };
}

/**
 * Something a person does to an open episode, at `at` (epoch ms, the person's clock), as `by`. The
 * episode machine (`operators/rules/episodes/actions.ts`) turns it into events.
 */
export type PersonAction =
  | { readonly kind: 'acknowledge'; readonly at: number; readonly by: string }
  | { readonly kind: 'assign'; readonly at: number; readonly by: string; readonly to: string }
  | { readonly kind: 'comment'; readonly at: number; readonly by: string; readonly text: string }
  | { readonly kind: 'clear'; readonly at: number; readonly by: string }
  | { readonly kind: 'shelve'; readonly at: number; readonly by: string; readonly until: number }
  | { readonly kind: 'unshelve'; readonly at: number; readonly by: string };

/** The kinds of {@link PersonAction}. */
export const PERSON_ACTION_KINDS = [
  'acknowledge',
  'assign',
  'comment',
  'clear',
  'shelve',
  'unshelve',
] as const;

/** The `type` of an alarm action record on the stream. */
export const ALARM_ACTION_TYPE = 'alarm-action';

/**
 * A person's action on an episode as a record on the telemetry stream (`shardflow alarms ack|…` puts
 * it there, with the partition key of the target's readings), so that it reaches the shard whose rule
 * operator keeps the episode, in order with the target's readings. JSON, `type` first: the stream's
 * reader recognises it by its first bytes ({@link ALARM_ACTION_PREFIX}) without parsing telemetry.
 */
export interface AlarmActionEnvelope {
  readonly type: typeof ALARM_ACTION_TYPE;
  readonly v: 1;
  /** Unique per action (the command makes a random one): the same action delivered twice applies once. */
  readonly actionId: string;
  readonly episodeId: string;
  readonly ruleId: string;
  readonly target: AlarmTarget;
  /** The device of the episode (the rule state's device; for a hub target, the hub). */
  readonly deviceId: string;
  readonly action: PersonAction;
}

/** An alarm action as read from the stream: the envelope and where it was read. */
export interface AlarmActionRecord extends AlarmActionEnvelope {
  /** Its stream position and partition key (the key the rule operator's state is under). */
  readonly ref: {
    readonly stream: string;
    readonly shardId: string;
    readonly sequenceNumber: string;
    readonly subSequenceNumber?: number;
    readonly partitionKey: string;
  };
}

/** The first bytes of every alarm action record (`JSON.stringify` keeps `type` first). */
export const ALARM_ACTION_PREFIX = `{"type":"${ALARM_ACTION_TYPE}"`;
const ACTION_PREFIX_BYTES = new TextEncoder().encode(ALARM_ACTION_PREFIX);

/** True for an alarm action (not a reading) on a stream that carries both. */
export function isAlarmAction(record: object): record is AlarmActionRecord {
  return (record as { type?: unknown }).type === ALARM_ACTION_TYPE;
}

/** The bytes of an alarm action record (`type` first, as readers recognise it). */
export function encodeAlarmAction(envelope: Omit<AlarmActionEnvelope, 'type' | 'v'>): Uint8Array {
  const ordered: AlarmActionEnvelope = {
    type: ALARM_ACTION_TYPE,
    v: 1,
    actionId: envelope.actionId,
    episodeId: envelope.episodeId,
    ruleId: envelope.ruleId,
    target: envelope.target,
    deviceId: envelope.deviceId,
    action: envelope.action,
  };
  return new TextEncoder().encode(JSON.stringify(ordered));
}

/** True when `data` begins as an alarm action record does (a cheap test, no parsing). */
export function looksLikeAlarmAction(data: Uint8Array): boolean {
  if (data.length < ACTION_PREFIX_BYTES.length) return false;
  for (let i = 0; i < ACTION_PREFIX_BYTES.length; i++) if (data[i] !== ACTION_PREFIX_BYTES[i]) return false;
  return true;
}

const TARGET_KIND_SET: ReadonlySet<unknown> = new Set(['device', 'hub', 'site', 'customer']);
const MAX_TEXT = 4096;

const isText = (v: unknown, max = 256): v is string =>
  typeof v === 'string' && v.length > 0 && v.length <= max;
const isEpoch = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** Why `a` is not a person's action, or undefined when it is one. */
function actionProblem(a: unknown): string | undefined {
  if (a === null || typeof a !== 'object') return 'action is not an object';
  const o = a as Record<string, unknown>;
  if (!(PERSON_ACTION_KINDS as readonly unknown[]).includes(o.kind))
    return `action.kind ${JSON.stringify(o.kind)} is not one of ${PERSON_ACTION_KINDS.join(', ')}`;
  if (!isEpoch(o.at)) return 'action.at is not an epoch in milliseconds';
  if (!isText(o.by)) return 'action.by is not a name (1 to 256 characters)';
  if (o.kind === 'assign' && !isText(o.to)) return 'action.to is not a name (1 to 256 characters)';
  if (o.kind === 'comment' && !isText(o.text, MAX_TEXT))
    return `action.text is not a text of 1 to ${MAX_TEXT} characters`;
  if (o.kind === 'shelve' && !isEpoch(o.until)) return 'action.until is not an epoch in milliseconds';
  return undefined;
}

/**
 * The alarm action a stream record holds, or why it is not a valid one (a record that begins as one,
 * {@link looksLikeAlarmAction}, and is not: the reader dead-letters it with the reason).
 */
export function readAlarmAction(
  record: Pick<
    RawRecord,
    'stream' | 'shardId' | 'sequenceNumber' | 'subSequenceNumber' | 'partitionKey' | 'data'
  >,
): AlarmActionRecord | { readonly problem: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(record.data));
  } catch {
    return { problem: 'alarm action record is not JSON text' };
  }
  const o = parsed as Record<string, unknown>;
  if (o === null || typeof o !== 'object' || o.type !== ALARM_ACTION_TYPE)
    return { problem: 'alarm action record is not an object of type alarm-action' };
  if (o.v !== 1) return { problem: `alarm action record version ${JSON.stringify(o.v)} is not 1` };
  for (const key of ['actionId', 'episodeId', 'ruleId', 'deviceId'] as const)
    if (!isText(o[key])) return { problem: `${key} is not an id (1 to 256 characters)` };
  const target = o.target as Record<string, unknown> | null;
  if (
    target === null ||
    typeof target !== 'object' ||
    !TARGET_KIND_SET.has(target.kind) ||
    !isText(target.id)
  )
    return { problem: 'target is not { kind: device | hub | site | customer, id }' };
  const problem = actionProblem(o.action);
  if (problem !== undefined) return { problem };
  const ref = {
    stream: record.stream,
    shardId: record.shardId,
    sequenceNumber: record.sequenceNumber,
    ...(record.subSequenceNumber === undefined ? {} : { subSequenceNumber: record.subSequenceNumber }),
    partitionKey: record.partitionKey,
  };
  const a = o.action as Record<string, unknown> & PersonAction;
  const base = { at: a.at, by: a.by };
  const action: PersonAction =
    a.kind === 'assign'
      ? { kind: a.kind, ...base, to: a.to }
      : a.kind === 'comment'
        ? { kind: a.kind, ...base, text: a.text }
        : a.kind === 'shelve'
          ? { kind: a.kind, ...base, until: a.until }
          : { kind: a.kind, ...base };
  return {
    type: ALARM_ACTION_TYPE,
    v: 1,
    actionId: o.actionId as string,
    episodeId: o.episodeId as string,
    ruleId: o.ruleId as string,
    target: { kind: target.kind as AlarmTargetKind, id: target.id as string },
    deviceId: o.deviceId as string,
    action,
    ref,
  };
}
