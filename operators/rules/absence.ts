/**
 * Absence (communication loss) rules: a device, or one metric of it, not heard for longer than the
 * rule's `after`, judged in processing time. The rule operator hands every reading here (late ones
 * too: a late reading is still the device talking) and every processing-time timer.
 *
 * - **Heard** is the reading's `ingest_timestamp`, the gateway's receipt time: wall time, but written
 *   in the record, so a replay or a new owner computes the same `heardAt`, the same raise time
 *   (`heardAt + after`) and so the same episode ids. The device's own clock is never used.
 * - **Judged** when a processing-time timer at `heardAt + after` finds nothing heard since, and only
 *   when the consumer is not what is late: not while the shard's reader is behind the tip of the
 *   stream by more than `absenceMaxLagMs` (its `millisBehindLatest`, else the age of the newest
 *   reading of the last batch) or held back by a full window of batches; not within `after` of the
 *   shard opening on this worker (a lease move, a restart or a replay: the readings of the gap the move
 *   made are still to be read); not outside the rule's schedule or in maintenance. A blocked judgement
 *   is tried again later (a tenth of `after`, 1 s to 1 min), and raises then with the same raise time.
 * - **Hubs.** A reading that came through a hub keyed by the hub (its partition key is the hub's id:
 *   how a hub's frame of its children's readings reaches the stream) also hears the hub, and a
 *   device-level rule judges the hub as a target of its own (`hub` alarms). A child whose hub has not
 *   been heard since the child was (the hub fell silent with it) raises nothing of its own; once the
 *   hub is heard again without the child, the child is judged as any device.
 * - **Clears** at the device's next reading (its `ingest_timestamp`, or the episode's last event time
 *   if that is later: a reading that was in flight when the timer fired).
 */
import type {
  AlarmEvent,
  AlarmTarget,
  Enriched,
  FiredTimer,
  MapState,
  OperatorContext,
  ShardContext,
  StateDescriptor,
  TimerContext,
  TimerService,
} from '../../topology/index.ts';
import {
  type AbsenceState,
  absenceField,
  absenceStateCodec,
  heardState,
  parseAbsenceField,
} from './absenceState.ts';
import { policyOf } from './alarmRule.ts';
import type { CompiledDetectorRule, CompiledRuleset } from './compile/compileRuleset.ts';
import { type AlarmRule, apply, dueAt, type EpisodeInput } from './episodes/index.ts';
import { ruleIndex } from './ruleIndex.ts';

/** The map state of absence rules: field `absenceField(rule, target)` under the partition key. */
export const ABSENCE = 'absence';
/** When each hub was last heard, under the hub's partition key: field the hub id. */
const HUBS = 'absence-hubs';

/** A compiled absence rule (`after` in ms; `metric` when it watches one metric). */
export type CompiledAbsence = CompiledDetectorRule & {
  readonly kind: 'absence';
  readonly after: number;
  readonly metric?: string;
};

/** What absence rules need from the operator. */
export interface AbsenceOptions {
  readonly rulesets: (productId: string) => CompiledRuleset | undefined;
  /** The shard's reader counts as behind beyond this lag. */
  readonly maxLagMs: number;
  /** A site's time zone, for schedules in `zone: site`. */
  readonly siteZone: (siteId: string | null) => string | undefined;
  /** Called on each state write. */
  readonly wrote: () => void;
}

/** What the operator keeps per shard in memory: when it opened here, and its estimated lag. */
interface ShardWatch {
  readonly openedAt: number;
  /** The newest reading's age in the last batch, when the source gives no lag figure. */
  lag: number | undefined;
}

const NONE: readonly AlarmEvent[] = [];

/** Absence rules for the rule operator: its states, its shard hooks, readings and timers. */
export function absenceRules(options: AbsenceOptions) {
  const index = absenceIndex();
  const shards = new Map<string, ShardWatch>();

  const watchOf = (shardId: string): ShardWatch => {
    let watch = shards.get(shardId);
    if (watch === undefined) {
      // a shard not opened through `openShard` (a test's own context): no grace
      watch = { openedAt: Number.NEGATIVE_INFINITY, lag: undefined };
      shards.set(shardId, watch);
    }
    return watch;
  };

  /** When a due judgement may be tried again, or undefined when nothing holds it. */
  const blockedUntil = (
    s: AbsenceState,
    rule: CompiledAbsence,
    target: AlarmTarget,
    now: number,
    ctx: TimerContext,
    hubs: MapState<number>,
    key: string,
  ): number | undefined => {
    const watch = watchOf(ctx.shardId);
    if (now < watch.openedAt + rule.after) return watch.openedAt + rule.after;
    const retry = now + Math.min(Math.max(Math.round(rule.after / 10), 1_000), 60_000);
    const reader = ctx.reader;
    if (reader?.heldBack === true) return retry;
    if ((reader?.millisBehindLatest ?? watch.lag ?? 0) > options.maxLagMs) return retry;
    if (target.kind === 'device' && s.hubId !== null) {
      const hubHeard = hubs.get(key, s.hubId);
      if (hubHeard !== undefined && hubHeard <= s.heardAt) return retry;
    }
    if (!rule.inSchedule(now, options.siteZone(s.siteId)) || rule.inMaintenance(now)) return retry;
    return undefined;
  };

  /** Sets the timer for the state's next due time, unless one is pending; `at` overrides the silence's. */
  const arm = (
    s: AbsenceState,
    rule: CompiledAbsence,
    alarm: AlarmOf,
    timers: TimerService,
    key: string,
    at?: number,
  ): AbsenceState => {
    if (s.timerAt !== null) return s;
    const due = at ?? nextDue(s, rule, alarm);
    if (due === undefined) return s;
    timers.registerProcessingTime(key, due);
    return { ...s, timerAt: due };
  };

  /** A reading of the device on one rule's target: heard, and an active alarm cleared. */
  const hear = (
    states: MapState<AbsenceState>,
    timers: TimerService,
    key: string,
    rule: CompiledAbsence,
    version: number,
    target: AlarmTarget,
    subject: Subject,
    at: number,
    events: AlarmEvent[],
  ) => {
    const field = absenceField(rule.id, target);
    const before = states.get(key, field);
    let s = before === undefined ? heardState(subject, at) : withSubject(before, subject);
    const alarm = alarmOf(rule, version, target);
    s = ticks(s, alarm, at, events);
    // a reading no newer than the last one heard (a duplicate the producer retried) ends no silence
    const newer = before === undefined || at > before.heardAt;
    if (newer) s = { ...s, heardAt: at };
    const open = s.episode.episode;
    if (newer && open?.status === 'active') {
      // never before the episode's last event: the machine takes inputs in time order
      const clearAt = Math.max(at, open.updatedAt);
      s = feed(s, { kind: 'condition', at: clearAt, holds: false }, alarm, events);
    }
    s = arm(s, rule, alarm, timers, key);
    if (s === before) return;
    states.set(key, field, s);
    options.wrote();
  };

  return {
    state: [
      { name: ABSENCE, kind: 'map', codec: absenceStateCodec },
      { name: HUBS, kind: 'map' },
    ] as readonly StateDescriptor[],

    /** The shard opened on this worker: its grace starts (restored timers fire right after). */
    openShard(ctx: ShardContext): void {
      shards.set(ctx.shardId, { openedAt: ctx.clock.now(), lag: undefined });
    },

    closeShard(shardId: string): void {
      shards.delete(shardId);
    },

    /** Takes a batch in: what hears each of its readings. */
    hearing(batch: readonly Enriched[], ctx: OperatorContext): (r: Enriched) => readonly AlarmEvent[] {
      const watch = watchOf(ctx.shardId);
      if (ctx.reader?.millisBehindLatest === undefined && batch.length > 0) {
        let newest = Number.NEGATIVE_INFINITY;
        for (const r of batch) if (r.ingest_timestamp > newest) newest = r.ingest_timestamp;
        watch.lag = Math.max(0, ctx.clock.now() - newest);
      }
      const states = ctx.state!.map<AbsenceState>(ABSENCE);
      const hubs = ctx.state!.map<number>(HUBS);
      const timers = ctx.timers!;
      return function heard(r) {
        const ruleset = options.rulesets(r.productId);
        if (ruleset === undefined) return NONE;
        const rules = index.of(ruleset, {
          deviceId: r.device_id,
          siteId: r.site_id,
          customerId: r.customer_id,
        });
        if (rules.length === 0) return NONE;
        const key = r.rawRef.partitionKey ?? r.device_id;
        const at = r.ingest_timestamp;
        // a hub is judged only where all its frames arrive: under its own partition key
        const hubId =
          r.hub_id !== undefined && r.hub_id !== r.device_id && r.hub_id === key ? r.hub_id : null;
        if (hubId !== null) hearHub(hubs, key, hubId, at, options.wrote);
        else if (hubs.get(key, r.device_id) !== undefined) hearHub(hubs, key, r.device_id, at, options.wrote);
        const subject = { productId: r.productId, siteId: r.site_id, customerId: r.customer_id, hubId };
        const events: AlarmEvent[] = [];
        for (const rule of rules) {
          if (rule.metric !== undefined && !present(r.metrics[rule.metric])) continue;
          const device = { kind: 'device', id: r.device_id } as const;
          hear(states, timers, key, rule, ruleset.version, device, subject, at, events);
          if (hubId !== null && rule.metric === undefined) {
            const hub = { kind: 'hub', id: hubId } as const;
            hear(states, timers, key, rule, ruleset.version, hub, { ...subject, hubId: null }, at, events);
          }
        }
        return events;
      };
    },

    /** The processing-time timers that came due: the silences they judge, the episodes' due changes. */
    timeDue(fired: readonly FiredTimer[], ctx: TimerContext): AlarmEvent[] {
      const events: AlarmEvent[] = [];
      const now = ctx.clock.now();
      const states = ctx.state!.map<AbsenceState>(ABSENCE);
      const hubs = ctx.state!.map<number>(HUBS);
      for (const timer of fired) {
        if (timer.domain !== 'processing-time') continue;
        for (const [field, before] of [...states.entries(timer.key)]) {
          if (before.timerAt === null || before.timerAt > now) continue;
          let s: AbsenceState = { ...before, timerAt: null };
          const { ruleId, target } = parseAbsenceField(field);
          const ruleset = options.rulesets(s.productId);
          const rule =
            ruleset === undefined
              ? undefined
              : index
                  .byId(ruleset, { deviceId: target.id, siteId: s.siteId, customerId: s.customerId })
                  .get(ruleId);
          if (ruleset !== undefined && rule !== undefined) {
            const alarm = alarmOf(rule, ruleset.version, target);
            const silentAt = s.heardAt + rule.after;
            let retry: number | undefined;
            // what falls due before the silence does happens first: the machine takes inputs in time order
            s = ticks(s, alarm, Math.min(now, silentAt), events);
            if (s.episode.episode?.status !== 'active' && silentAt <= now) {
              retry = blockedUntil(s, rule, target, now, ctx, hubs, timer.key);
              if (retry === undefined) {
                const message = rule.message || silenceMessage(rule);
                s = feed(
                  s,
                  { kind: 'condition', at: silentAt, holds: true, value: null, message },
                  alarm,
                  events,
                );
              }
            }
            if (retry === undefined) s = ticks(s, alarm, now, events);
            s = arm(s, rule, alarm, ctx.timers, timer.key, retry);
          }
          // a rule the ruleset in force no longer has (or disabled): its state waits, without a timer
          states.set(timer.key, field, s);
          options.wrote();
        }
      }
      return events;
    },
  };
}

/** Whom a target's alarm concerns, from the latest reading. */
type Subject = Pick<AbsenceState, 'productId' | 'siteId' | 'customerId' | 'hubId'>;

/** The alarm rule of a (rule, target) for a state: the episode machine's view. */
type AlarmOf = (s: AbsenceState) => AlarmRule;

function alarmOf(rule: CompiledAbsence, rulesetVersion: number, target: AlarmTarget): AlarmOf {
  return (s) => ({
    ruleId: rule.id,
    rulesetVersion,
    target,
    productId: s.productId,
    customerId: s.customerId,
    siteId: s.siteId,
    deviceId: target.id,
    policy: policyOf(rule, s.episode.episode?.severity),
  });
}

function withSubject(s: AbsenceState, subject: Subject): AbsenceState {
  return s.productId === subject.productId &&
    s.siteId === subject.siteId &&
    s.customerId === subject.customerId &&
    s.hubId === subject.hubId
    ? s
    : { ...s, ...subject };
}

function hearHub(hubs: MapState<number>, key: string, hubId: string, at: number, wrote: () => void): void {
  const before = hubs.get(key, hubId);
  if (before !== undefined && before >= at) return;
  hubs.set(key, hubId, at);
  wrote();
}

/** A metric is heard when the reading has a value for it (null is the device saying it has none). */
function present(value: unknown): boolean {
  return value !== undefined && value !== null;
}

/** The earliest time at which time alone changes the state: the silence, or the episode's due time. */
function nextDue(s: AbsenceState, rule: CompiledAbsence, alarm: AlarmOf): number | undefined {
  const episodeDue = dueAt(s.episode, alarm(s));
  if (s.episode.episode?.status === 'active') return episodeDue;
  const silentAt = s.heardAt + rule.after;
  return episodeDue === undefined ? silentAt : Math.min(episodeDue, silentAt);
}

/** The episode's time-driven changes due up to `upTo`, each at its own due time. */
function ticks(s: AbsenceState, alarm: AlarmOf, upTo: number, events: AlarmEvent[]): AbsenceState {
  let last = Number.NEGATIVE_INFINITY;
  for (;;) {
    const due = dueAt(s.episode, alarm(s));
    // a due time that does not move forward would loop: the machine promises a tick at dueAt acts
    if (due === undefined || due > upTo || due <= last) return s;
    last = due;
    s = feed(s, { kind: 'tick', at: due }, alarm, events);
  }
}

function feed(s: AbsenceState, input: EpisodeInput, alarm: AlarmOf, events: AlarmEvent[]): AbsenceState {
  const step = apply(s.episode, input, alarm(s));
  if (step.events.length === 0 && step.state === s.episode) return s;
  events.push(...step.events);
  return { ...s, episode: step.state };
}

/** The alarm's message when the rule gives none. */
function silenceMessage(rule: CompiledAbsence): string {
  const what = rule.metric === undefined ? 'nothing heard' : `no ${rule.metric} heard`;
  return `${what} for more than ${duration(rule.after)}`;
}

function duration(ms: number): string {
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1_000],
  ] as const)
    if (ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}

/** The enabled absence rules of a ruleset for a target, kept per rules array (`rulesFor` shares them). */
function absenceIndex() {
  return ruleIndex((rules) => rules.filter((r): r is CompiledAbsence => r.kind === 'absence' && r.enabled));
}
