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
