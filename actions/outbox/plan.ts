/**
 * What alarm events ask to be done, as outbox rows: a pure function of the events, the response
 * policy in force for each (product, rule, severity) and the time they are written. Run in the alarm
 * sink's transaction (`outboxWriter.ts`), so the rows commit with the events or not at all.
 *
 * - A **raise** that notifies (not shelved, not flapping): the escalation chain, one row per step and
 *   recipient, due when the step's delay has passed; the first reminder; the remote fix (a shadow
 *   command or a firmware job) or, without one, the technician dispatch.
 * - An **acknowledgement**, the episode's **close**, or a **clear** of an alarm that is not latched:
 *   the episode's pending escalation steps and reminders stop.
 * - A **clear** that notifies: the policy's `onClear` recipients are told.
 *
 * Keys are `episode/step/channel:target`, so a replayed event plans the same keys and inserts
 * nothing. Due times are the writer's clock plus the delay: a replay finds its rows there already.
 * An event older than `maxEventAgeMs` when first written (a replay into an empty outbox, a backlog
 * after a long outage) is recorded as `expired`: nothing goes out for it.
 */
import { createHash } from 'node:crypto';
import type { Recipient, ResponsePolicy, ResponsePolicySet } from '../../specs/responses/schema.ts';
import { renderTemplate, templateFor } from '../../specs/responses/template.ts';
import type { AlarmEvent, Episode } from '../../topology/index.ts';
import type { FirmwarePayload, NotificationPayload, ShadowPayload } from '../channels/channel.ts';
import type { PolicyInForce, PolicyLookup } from '../policies/catalog.ts';
import type { NewAction } from './outboxTable.ts';

/** What the planner needs besides the events. */
export interface PlanContext {
  readonly policyFor: PolicyLookup;
  /** The writer's clock (epoch ms): due times are counted from it. */
  readonly now: number;
  /** Events older than this when first written are recorded as expired, never acted on. */
  readonly maxEventAgeMs: number;
}

/** The rows to insert and the episodes whose stoppable rows end. */
export interface ActionPlan {
  readonly rows: NewAction[];
  readonly stop: string[];
}

/** The technician a policy asks for when there is no remote fix or it did not work. */
export interface DispatchSpec {
  readonly skills: readonly string[];
  readonly priority: 'low' | 'normal' | 'high';
}

/** A notification row's payload: what to send, and for reminders how to go on. */
export interface NotifyActionPayload {
  readonly notification: NotificationPayload;
  readonly remind?: { readonly n: number; readonly every: number; readonly max: number };
}

/** A remote fix row's payload: the command, how to check it worked, and the fallback. */
export interface FixActionPayload {
  readonly shadow?: ShadowPayload & { readonly commandIntervalMs: number };
  readonly firmware?: FirmwarePayload;
  readonly verify: VerifySpec;
  readonly dispatch: DispatchSpec | null;
}

/** How to check a remote fix: the reported state that means fixed, within how long. */
export interface VerifySpec {
  readonly thingName: string;
  readonly shadowName?: string;
  readonly expect: Readonly<Record<string, unknown>>;
  readonly withinMs: number;
  readonly fix: 'shadow' | 'firmware';
}

/** A verify row's payload. */
export interface VerifyActionPayload {
  readonly verify: VerifySpec;
  readonly dispatch: DispatchSpec | null;
}

/** A dispatch row's payload. */
export interface DispatchActionPayload {
  readonly dispatch: DispatchSpec;
  readonly reason: string;
}

/** The channel and address of a recipient. */
export function recipientChannel(r: Recipient): { channel: 'sns' | 'email' | 'webhook'; to: string } {
  if ('sns' in r) return { channel: 'sns', to: r.sns };
  if ('email' in r) return { channel: 'email', to: r.email };
  return { channel: 'webhook', to: r.webhook };
}

/** The facts of an episode a template may name. */
export function episodeFacts(
  episode: Episode,
  event: string,
  step: string,
): Record<string, string | number | boolean | null> {
  return {
    severity: episode.severity,
    message: episode.message,
    ruleId: episode.ruleId,
    episodeId: episode.id,
    deviceId: episode.deviceId,
    siteId: episode.siteId,
    customerId: episode.customerId,
    productId: episode.productId,
    value: episode.value,
    status: episode.status,
    openedAt: new Date(episode.openedAt).toISOString(),
    event,
    step,
  };
}

/** A rendered notification of `episode` to one recipient. */
export function notificationOf(
  set: ResponsePolicySet,
  recipient: Recipient,
  episode: Episode,
  event: string,
  step: string,
): { channel: 'sns' | 'email' | 'webhook'; payload: NotificationPayload } {
  const { channel, to } = recipientChannel(recipient);
  const facts = episodeFacts(episode, event, step);
  const template = templateFor(set, channel, episode.severity);
  return {
    channel,
    payload: {
      to,
      subject: renderTemplate(template.subject, facts),
      body: renderTemplate(template.body, facts),
      facts,
    },
  };
}

/** The IoT job id of a firmware update for an episode: deterministic, `[A-Za-z0-9_-]`, 35 characters. */
export function firmwareJobId(episodeId: string, version: string): string {
  return `fw-${createHash('sha256').update(`${episodeId}\u0001${version}`).digest('hex').slice(0, 32)}`;
}

/** Plans the rows for a batch of alarm events. */
export function planActions(events: readonly AlarmEvent[], ctx: PlanContext): ActionPlan {
  const rows: NewAction[] = [];
  const stop = new Set<string>();
  for (const event of events) {
    const episode = event.episode;
    if (
      event.kind === 'acknowledge' ||
      event.kind === 'close' ||
      (event.kind === 'clear' && !episode.latched)
    )
      stop.add(episode.id);
    if (!event.notify || event.suppressed || episode.productId === null) continue;
    if (event.kind !== 'raise' && event.kind !== 'clear') continue;
    const found = ctx.policyFor(episode.productId, episode.ruleId, episode.severity);
    if (found === undefined) continue;
    const status = ctx.now - event.at > ctx.maxEventAgeMs ? 'expired' : 'pending';
    const planned =
      event.kind === 'raise'
        ? planRaise(found, episode, ctx.now)
        : planClear(found, episode, event.seq, ctx.now);
    for (const row of planned) rows.push(status === 'pending' ? row : { ...row, status });
  }
  return { rows, stop: [...stop] };
}

/** A row of `episode`. */
function rowOf(
  episode: Episode,
  fields: Pick<NewAction, 'key' | 'kind' | 'channel' | 'payload' | 'dueAt' | 'stopOnAck'>,
): NewAction {
  return { ...fields, ...subjectOf(episode) };
}

function planRaise({ set, policy }: PolicyInForce, episode: Episode, now: number): NewAction[] {
  const rows: NewAction[] = [];
  policy.notify.forEach((step, i) => {
    for (const recipient of step.to) {
      const { channel, payload } = notificationOf(set, recipient, episode, 'raise', `escalation ${i + 1}`);
      rows.push(
        rowOf(episode, {
          key: `${episode.id}/notify.${i + 1}/${channel}:${payload.to}`,
          kind: 'notify',
          channel,
          payload: { notification: payload } satisfies NotifyActionPayload,
          dueAt: now + step.after,
          stopOnAck: true,
        }),
      );
    }
  });
  if (policy.remind !== undefined) {
    const { every, max } = policy.remind;
    for (const recipient of policy.remind.to) {
      const { channel, payload } = notificationOf(set, recipient, episode, 'reminder', 'reminder 1');
      rows.push(
        rowOf(episode, {
          key: `${episode.id}/remind.1/${channel}:${payload.to}`,
          kind: 'remind',
          channel,
          payload: { notification: payload, remind: { n: 1, every, max } } satisfies NotifyActionPayload,
          dueAt: now + every,
          stopOnAck: true,
        }),
      );
    }
  }
  const dispatch = policy.dispatch ?? null;
  const fix = policy.remoteFix;
  const thing = episode.deviceId;
  if (fix !== undefined && thing !== null) {
    rows.push(fixRow(set, fix, episode, thing, dispatch, now));
  } else if (dispatch !== null) {
    const reason =
      fix === undefined ? 'no remote fix for this alarm' : 'the alarm names no device to fix remotely';
    rows.push(dispatchRow(subjectOf(episode), dispatch, reason, now));
  }
  return rows;
}

function fixRow(
  set: ResponsePolicySet,
  fix: NonNullable<ResponsePolicy['remoteFix']>,
  episode: Episode,
  thingName: string,
  dispatch: DispatchSpec | null,
  now: number,
): NewAction {
  if ('shadow' in fix) {
    const { desired, expect, within, shadowName } = fix.shadow;
    const named = shadowName === undefined ? {} : { shadowName };
    const payload: FixActionPayload = {
      shadow: { thingName, ...named, desired, commandIntervalMs: set.shadow.commandInterval },
      verify: { thingName, ...named, expect: expect ?? desired, withinMs: within, fix: 'shadow' },
      dispatch,
    };
    return rowOf(episode, {
      key: `${episode.id}/fix/shadow:${thingName}`,
      kind: 'shadow',
      channel: 'shadow',
      payload,
      dueAt: now,
      stopOnAck: false,
    });
  }
  const f = fix.firmware;
  const payload: FixActionPayload = {
    firmware: {
      jobId: firmwareJobId(episode.id, f.version),
      thingName,
      version: f.version,
      document: f.document,
      maximumPerMinute: f.rollout.maximumPerMinute,
      abortFailurePercent: f.abort.failurePercent,
      abortMinExecutions: f.abort.minExecutions,
      timeoutMinutes: Math.max(1, Math.ceil(f.timeout / 60_000)),
    },
    verify: { thingName, expect: f.expect, withinMs: f.within, fix: 'firmware' },
    dispatch,
  };
  return rowOf(episode, {
    key: `${episode.id}/fix/firmware:${thingName}`,
    kind: 'firmware',
    channel: 'firmware',
    payload,
    dueAt: now,
    stopOnAck: false,
  });
}

/** What an outbox row says of its alarm: the episode and who and what it is about. */
export type RowSubject = Pick<NewAction, 'episodeId' | 'customerId' | 'deviceId' | 'productId'>;

/** The subject of an episode's rows. */
function subjectOf(episode: Episode): RowSubject {
  return {
    episodeId: episode.id,
    customerId: episode.customerId,
    deviceId: episode.deviceId,
    productId: episode.productId,
  };
}

/** The row that opens a technician dispatch for an episode (one per episode: the key says so). */
export function dispatchRow(
  subject: RowSubject,
  dispatch: DispatchSpec,
  reason: string,
  now: number,
): NewAction {
  return {
    ...subject,
    key: `${subject.episodeId}/dispatch/outbox:technician`,
    kind: 'dispatch',
    channel: 'outbox',
    payload: { dispatch, reason } satisfies DispatchActionPayload,
    dueAt: now,
    stopOnAck: false,
  };
}

function planClear({ set, policy }: PolicyInForce, episode: Episode, seq: number, now: number): NewAction[] {
  return policy.onClear.map((recipient) => {
    const { channel, payload } = notificationOf(set, recipient, episode, 'clear', 'cleared');
    return rowOf(episode, {
      key: `${episode.id}/clear.${seq}/${channel}:${payload.to}`,
      kind: 'clear',
      channel,
      payload: { notification: payload } satisfies NotifyActionPayload,
      dueAt: now,
      stopOnAck: false,
    });
  });
}
