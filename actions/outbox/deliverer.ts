/**
 * Delivers the outbox: any number of workers run a deliverer, each claims due rows with
 * `FOR UPDATE SKIP LOCKED` in a transaction, delivers them and records how each ended in that same
 * transaction. A worker killed while delivering holds no row afterwards (its transaction dies with
 * its connection) and another worker delivers what it had claimed.
 *
 * Before sending, in the claiming transaction:
 * - an escalation step or reminder whose episode was acknowledged, closed, or cleared without a
 *   latch is cancelled (the acknowledgement also cancels them when it is written; this catches the
 *   rows that were held at that moment); one whose episode is shelved waits for the shelving's end;
 * - per-customer flood control: past `flood.max` notifications in `flood.windowMs`, a notification
 *   is folded into one digest per recipient and window, sent when the window ends;
 * - guard rails: at most one shadow command per device per the policy's interval, at most one
 *   firmware job per device per UTC day; a command the guard stops is skipped and the technician
 *   dispatch starts instead.
 *
 * After sending: a remote fix that went out schedules its check (`verify`, due when the device had
 * to report the fix); a reminder schedules the next one; a check that finds the device's reported
 * state not as expected, or a fix that could not be sent, starts the dispatch; an opened dispatch
 * tells its engineer and starts the dispatch workflow when one is configured.
 *
 * The one window without exactly-once is a crash after a service accepted a send and before the
 * claiming transaction committed: the row is delivered again. Every send carries its idempotency key
 * for receivers that deduplicate (see `channels/channel.ts`).
 */
import type { SqlClient } from '../../sinks/postgres/sql.ts';
import {
  type Clock,
  errorMessage,
  type Logger,
  type SourceGauge,
  systemClock,
} from '../../topology/index.ts';
import type {
  Channel,
  ChannelKind,
  Delivery,
  DeliveryResult,
  NotificationPayload,
  ShadowReader,
} from '../channels/channel.ts';
import { dispatchIdOf, openDispatch } from '../dispatch/dispatches.ts';
import {
  type ActionChannel,
  type ActionOutcome,
  type ClaimedAction,
  claimDue,
  finishActions,
  insertActions,
  type NewAction,
  NOTIFICATION_KINDS,
} from './outboxTable.ts';
import {
  type DispatchActionPayload,
  dispatchRow,
  type FixActionPayload,
  type NotifyActionPayload,
  type RowSubject,
  type VerifyActionPayload,
} from './plan.ts';

/** The channels a worker delivers on; a row on a channel it lacks waits for a worker that has it. */
export type Channels = { readonly [K in ChannelKind]?: Channel<K> };

export interface DelivererOptions {
  readonly warm: SqlClient;
  readonly channels: Channels;
  /** Reads devices' reported state for the check that a remote fix worked. */
  readonly shadows?: ShadowReader;
  readonly clock?: Clock;
  /** Rows claimed per transaction. */
  readonly batchSize?: number;
  /** How often to look for due rows when the last look found none. */
  readonly pollMs?: number;
  /** Attempts before a row that keeps failing is given up (`failed`). */
  readonly maxAttempts?: number;
  /** Notifications per customer per window before the rest become a digest. */
  readonly flood?: { readonly max: number; readonly windowMs: number };
  readonly log: Logger;
}

/** Counts since start, for `/metrics` and the benchmark. */
export interface DelivererFigures {
  sent: number;
  failed: number;
  retried: number;
  cancelled: number;
  skipped: number;
  digested: number;
  /** Time from a row's creation to its send, for the first escalation step (ms), the last 1,000. */
  readonly firstNotifyLatencyMs: number[];
}

/** The rows the deliverer delivers itself: a fix's check, opening a dispatch, a digest. */
const OWN_KINDS: ReadonlySet<string> = new Set(['verify', 'dispatch', 'digest']);

const BACKOFF_BASE_MS = 1000;
const BACKOFF_MAX_MS = 300_000;
const DAY_MS = 86_400_000;

/** The outbox deliverer of one worker. */
export class OutboxDeliverer {
  readonly figures: DelivererFigures = {
    sent: 0,
    failed: 0,
    retried: 0,
    cancelled: 0,
    skipped: 0,
    digested: 0,
    firstNotifyLatencyMs: [],
  };
  private readonly clock: Clock;
  private readonly batchSize: number;
  private readonly pollMs: number;
  private readonly maxAttempts: number;
  private readonly flood: { max: number; windowMs: number };
  private readonly onChannels: ActionChannel[];
  private running: Promise<void> | undefined;
  private stopping = false;
  private napping: AbortController | undefined;

  constructor(private readonly options: DelivererOptions) {
    this.clock = options.clock ?? systemClock;
    this.batchSize = options.batchSize ?? 500;
    this.pollMs = options.pollMs ?? 250;
    this.maxAttempts = options.maxAttempts ?? 20;
    this.flood = options.flood ?? { max: 10, windowMs: 600_000 };
    this.onChannels = ['outbox', ...(Object.keys(options.channels) as ChannelKind[])];
  }

  /** Starts delivering in the background until {@link stop}. */
  start(): void {
    if (this.running !== undefined) return;
    this.stopping = false;
    this.running = this.loop();
  }

  /** Looks for due rows now (on a NOTIFY of new rows), not at the next poll. */
  poke(): void {
    this.napping?.abort();
  }

  /** Finishes the transaction in hand and stops. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.napping?.abort();
    await this.running;
    this.running = undefined;
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      let claimed = 0;
      try {
        claimed = await this.deliverOnce();
      } catch (error) {
        this.options.log.warn({ err: errorMessage(error) }, 'outbox delivery failed; trying again');
      }
      if (claimed < this.batchSize && !this.stopping) {
        this.napping = new AbortController();
        await this.clock.sleep(this.pollMs, this.napping.signal).catch(() => {});
      }
    }
  }

  /** Claims, delivers and finishes one batch of due rows; returns how many were claimed. */
  deliverOnce(): Promise<number> {
    return this.options.warm.transaction(async (tx) => {
      const now = this.clock.now();
      const claimed = await claimDue(tx, this.onChannels, now, this.batchSize);
      if (claimed.length === 0) return 0;
      const outcomes = new Map<string, ActionOutcome>();
      const followUps: NewAction[] = [];
      const live = await this.dropStopped(tx, claimed, outcomes, now);
      const toSend = await this.holdBack(tx, live, outcomes, followUps, now);
      await Promise.all([
        this.sendAll(
          toSend.filter((a) => !OWN_KINDS.has(a.kind)),
          outcomes,
          followUps,
          now,
        ),
        ...toSend
          .filter((a) => OWN_KINDS.has(a.kind))
          .map((a) => this.doItself(tx, a, outcomes, followUps, now)),
      ]);
      await insertActions(tx, followUps, now);
      await finishActions(tx, outcomes, now);
      this.count(outcomes);
      return claimed.length;
    });
  }

  /**
   * Cancels stoppable rows whose episode was acknowledged or ended, puts off those of a shelved
   * episode to the shelving's end; returns the rest.
   */
  private async dropStopped(
    tx: SqlClient,
    claimed: readonly ClaimedAction[],
    outcomes: Map<string, ActionOutcome>,
    now: number,
  ): Promise<ClaimedAction[]> {
    const ids = [...new Set(claimed.filter((a) => a.stopOnAck).map((a) => a.episodeId))];
    if (ids.length === 0) return [...claimed];
    const { rows } = await tx.query<{ episode_id: string; why: string | null; shelved_until: Date | null }>(
      `SELECT episode_id, CASE WHEN acknowledged THEN 'acknowledged' WHEN closed_at IS NOT NULL THEN 'closed'
         WHEN status = 'cleared' AND NOT latched THEN 'cleared' END AS why, shelved_until
       FROM alarm_episodes WHERE episode_id = ANY($1::text[])`,
      [ids],
    );
    const byId = new Map(rows.map((r) => [r.episode_id, r]));
    return claimed.filter((a) => {
      const episode = a.stopOnAck ? byId.get(a.episodeId) : undefined;
      if (episode === undefined) return true;
      if (episode.why !== null) {
        outcomes.set(a.key, { status: 'cancelled', result: episode.why });
        return false;
      }
      const shelvedUntil = episode.shelved_until === null ? 0 : new Date(episode.shelved_until).getTime();
      if (shelvedUntil <= now) return true;
      outcomes.set(a.key, { status: 'postpone', dueAt: shelvedUntil, result: 'shelved' });
      return false;
    });
  }

  /** Flood control and guard rails: returns the rows to deliver now. */
  private async holdBack(
    tx: SqlClient,
    rows: readonly ClaimedAction[],
    outcomes: Map<string, ActionOutcome>,
    followUps: NewAction[],
    now: number,
  ): Promise<ClaimedAction[]> {
    const sentBy = await this.recentNotifications(tx, rows, now);
    const commands = await this.recentCommands(tx, rows, now);
    const out: ClaimedAction[] = [];
    for (const a of rows) {
      if (NOTIFICATION_KINDS.has(a.kind) && a.customerId !== null) {
        const sent = sentBy.get(a.customerId) ?? 0;
        if (sent >= this.flood.max) {
          const digest = this.digestOf(a, now);
          followUps.push(digest);
          outcomes.set(a.key, { status: 'digested', digestKey: digest.key });
          continue;
        }
        sentBy.set(a.customerId, sent + 1);
      }
      if ((a.kind === 'shadow' || a.kind === 'firmware') && a.deviceId !== null) {
        const payload = a.payload as FixActionPayload;
        const last = commands.get(`${a.kind}\u0001${a.deviceId}`);
        const window = a.kind === 'shadow' ? (payload.shadow?.commandIntervalMs ?? 0) : DAY_MS;
        const limited =
          last !== undefined &&
          (a.kind === 'shadow'
            ? now - last < window
            : Math.floor(last / DAY_MS) === Math.floor(now / DAY_MS));
        if (limited) {
          const why =
            a.kind === 'shadow'
              ? 'a shadow command went to this device less than the command interval ago'
              : 'a firmware job went to this device today';
          outcomes.set(a.key, { status: 'skipped', result: why });
          if (payload.dispatch !== null)
            followUps.push(dispatchRow(carried(a), payload.dispatch, `remote fix not sent: ${why}`, now));
          continue;
        }
        commands.set(`${a.kind}\u0001${a.deviceId}`, now);
      }
      out.push(a);
    }
    return out;
  }

  /** Notifications sent per customer (of the batch's customers) within the flood window. */
  private async recentNotifications(
    tx: SqlClient,
    rows: readonly ClaimedAction[],
    now: number,
  ): Promise<Map<string, number>> {
    const customers = [
      ...new Set(
        rows.filter((a) => NOTIFICATION_KINDS.has(a.kind) && a.customerId !== null).map((a) => a.customerId!),
      ),
    ];
    if (customers.length === 0) return new Map();
    const { rows: counts } = await tx.query<{ customer_id: string; n: string }>(
      `SELECT customer_id, count(*) AS n FROM action_outbox
       WHERE status = 'sent' AND customer_id = ANY($1::text[]) AND kind IN ('notify', 'remind', 'clear')
         AND done_at > to_timestamp($2 / 1000.0)
       GROUP BY customer_id`,
      [customers, now - this.flood.windowMs],
    );
    return new Map(counts.map((r) => [r.customer_id, Number(r.n)]));
  }

  /** When each of the batch's devices last had a shadow command or a firmware job sent (ms). */
  private async recentCommands(
    tx: SqlClient,
    rows: readonly ClaimedAction[],
    now: number,
  ): Promise<Map<string, number>> {
    const devices = [
      ...new Set(
        rows
          .filter((a) => (a.kind === 'shadow' || a.kind === 'firmware') && a.deviceId !== null)
          .map((a) => a.deviceId!),
      ),
    ];
    if (devices.length === 0) return new Map();
    const { rows: last } = await tx.query<{ kind: string; device_id: string; at: Date }>(
      `SELECT kind, device_id, max(done_at) AS at FROM action_outbox
       WHERE status = 'sent' AND kind IN ('shadow', 'firmware') AND device_id = ANY($1::text[])
         AND done_at > to_timestamp($2 / 1000.0)
       GROUP BY kind, device_id`,
      [devices, now - 2 * DAY_MS],
    );
    return new Map(last.map((r) => [`${r.kind}\u0001${r.device_id}`, new Date(r.at).getTime()]));
  }

  /** The digest row a held-back notification joins: one per customer, recipient and window. */
  private digestOf(a: ClaimedAction, now: number): NewAction {
    const windowStart = Math.floor(now / this.flood.windowMs) * this.flood.windowMs;
    const { to } = (a.payload as NotifyActionPayload).notification;
    return {
      key: `digest/${a.customerId}/${new Date(windowStart).toISOString()}/${a.channel}:${to}`,
      episodeId: `digest/${a.customerId}`,
      kind: 'digest',
      channel: a.channel,
      customerId: a.customerId,
      deviceId: null,
      productId: null,
      payload: { to, customerId: a.customerId, windowStart, windowMs: this.flood.windowMs },
      dueAt: windowStart + this.flood.windowMs,
      stopOnAck: false,
    };
  }

  /** Sends the batch's rows on their channels (each channel's rows as one batch, channels at once). */
  private async sendAll(
    rows: readonly ClaimedAction[],
    outcomes: Map<string, ActionOutcome>,
    followUps: NewAction[],
    now: number,
  ): Promise<void> {
    const byChannel = new Map<ChannelKind, ClaimedAction[]>();
    for (const a of rows) {
      // rows on `outbox` are the deliverer's own (OWN_KINDS), never here
      const channel = a.channel as ChannelKind;
      const list = byChannel.get(channel) ?? [];
      list.push(a);
      byChannel.set(channel, list);
    }
    await Promise.all(
      [...byChannel].map(async ([kind, list]) => {
        const channel = this.options.channels[kind] as Channel | undefined;
        if (channel === undefined) return;
        const batch: Delivery[] = list.map((a) => ({ key: a.key, payload: deliveryPayload(a) }));
        let results: DeliveryResult[];
        try {
          results = await channel.send(batch);
        } catch (error) {
          results = list.map(() => ({ ok: false, retry: true, error: errorMessage(error) }));
        }
        list.forEach((a, i) => {
          this.settle(
            a,
            results[i] ?? { ok: false, retry: true, error: 'no result' },
            outcomes,
            followUps,
            now,
          );
        });
      }),
    );
  }

  /** Records a delivery's result and what follows from it. */
  private settle(
    a: ClaimedAction,
    result: DeliveryResult,
    outcomes: Map<string, ActionOutcome>,
    followUps: NewAction[],
    now: number,
  ): void {
    if (result.ok) {
      outcomes.set(a.key, { status: 'sent', ...(result.ref === undefined ? {} : { result: result.ref }) });
      if (a.kind === 'notify' && a.key.includes('/notify.1/'))
        this.recordLatency(this.clock.now() - a.createdAt);
      followUps.push(...this.afterSent(a, now));
      return;
    }
    if (result.retry && a.attempts + 1 < this.maxAttempts) {
      const backoff = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** a.attempts);
      outcomes.set(a.key, {
        status: 'retry',
        dueAt: now + (result.retryAfterMs ?? backoff),
        error: result.error,
      });
      return;
    }
    outcomes.set(a.key, { status: 'failed', error: result.error });
    this.options.log.warn({ action: a.key, err: result.error }, 'action given up');
    if (a.kind === 'shadow' || a.kind === 'firmware') {
      const { dispatch } = a.payload as FixActionPayload;
      if (dispatch !== null)
        followUps.push(dispatchRow(carried(a), dispatch, `remote fix failed: ${result.error}`, now));
    }
  }

  /** The rows a sent row leads to: a fix's check, the next reminder. */
  private afterSent(a: ClaimedAction, now: number): NewAction[] {
    if (a.kind === 'shadow' || a.kind === 'firmware') {
      const { verify, dispatch } = a.payload as FixActionPayload;
      return [
        {
          ...carried(a),
          key: `${a.episodeId}/verify/shadow:${verify.thingName}`,
          kind: 'verify',
          channel: 'shadow',
          payload: { verify, dispatch } satisfies VerifyActionPayload,
          dueAt: now + verify.withinMs,
          stopOnAck: false,
        },
      ];
    }
    if (a.kind === 'remind') {
      const p = a.payload as NotifyActionPayload;
      const r = p.remind!;
      if (r.n >= r.max) return [];
      const n = r.n + 1;
      return [
        {
          ...carried(a),
          key: a.key.replace(`/remind.${r.n}/`, `/remind.${n}/`),
          kind: 'remind',
          channel: a.channel,
          payload: {
            notification: {
              ...p.notification,
              subject: p.notification.subject,
              facts: { ...p.notification.facts, step: `reminder ${n}` },
            },
            remind: { ...r, n },
          } satisfies NotifyActionPayload,
          dueAt: now + r.every,
          stopOnAck: true,
        },
      ];
    }
    return [];
  }

  /** The steps the deliverer does itself: the check of a fix, opening a dispatch, a digest. */
  private async doItself(
    tx: SqlClient,
    a: ClaimedAction,
    outcomes: Map<string, ActionOutcome>,
    followUps: NewAction[],
    now: number,
  ): Promise<void> {
    try {
      if (a.kind === 'verify') await this.verify(tx, a, outcomes, followUps, now);
      else if (a.kind === 'dispatch') await this.openDispatch(tx, a, outcomes, followUps, now);
      else await this.sendDigest(tx, a, outcomes, now);
    } catch (error) {
      this.settle(a, { ok: false, retry: true, error: errorMessage(error) }, outcomes, followUps, now);
    }
  }

  private async verify(
    tx: SqlClient,
    a: ClaimedAction,
    outcomes: Map<string, ActionOutcome>,
    followUps: NewAction[],
    now: number,
  ): Promise<void> {
    const { verify, dispatch } = a.payload as VerifyActionPayload;
    const { rows } = await tx.query<{ status: string; closed: boolean }>(
      'SELECT status, closed_at IS NOT NULL AS closed FROM alarm_episodes WHERE episode_id = $1',
      [a.episodeId],
    );
    if (rows[0] !== undefined && (rows[0].closed || rows[0].status === 'cleared')) {
      outcomes.set(a.key, { status: 'sent', result: 'fixed: the alarm cleared' });
      return;
    }
    const shadows = this.options.shadows;
    if (shadows === undefined) throw new Error('this worker has the shadow channel but no shadow reader');
    const reported = await shadows.reported(verify.thingName, verify.shadowName);
    const missing = Object.entries(verify.expect)
      .filter(([k, v]) => !sameValue(reported?.[k], v))
      .map(([k]) => k);
    if (missing.length === 0) {
      outcomes.set(a.key, { status: 'sent', result: 'fixed: the device reports the expected state' });
      return;
    }
    const why = `the device did not report ${missing.join(', ')} as expected within ${verify.withinMs / 1000} s`;
    outcomes.set(a.key, { status: 'sent', result: `not fixed: ${why}` });
    if (dispatch !== null)
      followUps.push(dispatchRow(carried(a), dispatch, `remote ${verify.fix} fix did not work: ${why}`, now));
  }

  private async openDispatch(
    tx: SqlClient,
    a: ClaimedAction,
    outcomes: Map<string, ActionOutcome>,
    followUps: NewAction[],
    now: number,
  ): Promise<void> {
    const p = a.payload as DispatchActionPayload;
    const dispatchId = dispatchIdOf(a.episodeId);
    const { rows } = await tx.query<{ site_id: string | null }>(
      'SELECT site_id FROM alarm_episodes WHERE episode_id = $1',
      [a.episodeId],
    );
    const siteId = rows[0]?.site_id ?? null;
    const { dispatch, engineer } = await openDispatch(tx, {
      dispatchId,
      episodeId: a.episodeId,
      productId: a.productId,
      customerId: a.customerId,
      siteId,
      deviceId: a.deviceId,
      skills: p.dispatch.skills,
      priority: p.dispatch.priority,
      reason: p.reason,
      at: now,
    });
    outcomes.set(a.key, {
      status: 'sent',
      result: `${dispatchId} ${engineer === undefined ? 'waiting for an engineer' : `assigned to ${engineer.id}`}`,
    });
    const facts = {
      dispatchId,
      episodeId: a.episodeId,
      deviceId: a.deviceId,
      siteId: siteId,
      customerId: a.customerId,
      productId: a.productId,
      priority: p.dispatch.priority,
      reason: p.reason,
      engineerId: dispatch.engineerId,
    };
    if (engineer !== undefined && this.options.channels.email !== undefined)
      followUps.push({
        ...carried(a),
        key: `${a.episodeId}/dispatch.engineer/email:${engineer.email}`,
        kind: 'engineer',
        channel: 'email',
        payload: {
          notification: {
            to: engineer.email,
            subject: `Dispatch ${dispatchId} (${p.dispatch.priority}): device ${a.deviceId ?? '-'} at site ${siteId ?? '-'}`,
            body: `You are assigned dispatch ${dispatchId}.\nReason: ${p.reason}\nDevice: ${a.deviceId ?? '-'}\nSite: ${siteId ?? '-'}\nCustomer: ${a.customerId ?? '-'}\n`,
            facts,
          },
        } satisfies NotifyActionPayload,
        dueAt: now,
        stopOnAck: false,
      });
    if (this.options.channels.workflow !== undefined)
      followUps.push({
        ...carried(a),
        key: `${a.episodeId}/dispatch.workflow/workflow:${dispatchId}`,
        kind: 'workflow',
        channel: 'workflow',
        payload: { name: dispatchId, input: facts },
        dueAt: now,
        stopOnAck: false,
      });
  }

  /** Sends a digest: every notification folded into it, as one message. */
  private async sendDigest(
    tx: SqlClient,
    a: ClaimedAction,
    outcomes: Map<string, ActionOutcome>,
    now: number,
  ): Promise<void> {
    const channel = this.options.channels[a.channel as 'sns' | 'email' | 'webhook'];
    if (channel === undefined) return;
    const { rows } = await tx.query<{ payload: NotifyActionPayload | string }>(
      `SELECT payload FROM action_outbox WHERE digest_key = $1 ORDER BY created_at, action_key`,
      [a.key],
    );
    const p = a.payload as { to: string; customerId: string; windowStart: number; windowMs: number };
    const lines = rows.map((r) => {
      const n = (typeof r.payload === 'string' ? JSON.parse(r.payload) : r.payload) as NotifyActionPayload;
      return `- ${n.notification.subject}`;
    });
    const notification: NotificationPayload = {
      to: p.to,
      subject: `${lines.length} alarm notifications for customer ${p.customerId}`,
      body: `More than ${this.flood.max} notifications in ${this.flood.windowMs / 60_000} minutes for customer ${p.customerId}, from ${new Date(p.windowStart).toISOString()}:\n${lines.join('\n')}\n`,
      facts: {
        customerId: p.customerId,
        count: lines.length,
        windowStart: new Date(p.windowStart).toISOString(),
      },
    };
    let result: DeliveryResult;
    try {
      [result = { ok: false, retry: true, error: 'no result' }] = await (channel as Channel).send([
        { key: a.key, payload: notification },
      ]);
    } catch (error) {
      result = { ok: false, retry: true, error: errorMessage(error) };
    }
    this.settle(a, result, outcomes, [], now);
  }

  /** The figures as gauges for `/metrics` (counts since start; the latency over the last 1,000). */
  gauges(): SourceGauge[] {
    const f = this.figures;
    const sorted = [...f.firstNotifyLatencyMs].sort((a, b) => a - b);
    const p99 =
      sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(0.99 * sorted.length))]!;
    return [
      { name: 'outbox_sent', help: 'outbox rows delivered by this worker since it started', value: f.sent },
      { name: 'outbox_failed', help: 'outbox rows given up (refused, or out of attempts)', value: f.failed },
      { name: 'outbox_retried', help: 'deliveries put off to be tried again', value: f.retried },
      {
        name: 'outbox_cancelled',
        help: 'escalation steps and reminders an acknowledgement stopped',
        value: f.cancelled,
      },
      { name: 'outbox_skipped', help: 'remote fixes a guard rail held back', value: f.skipped },
      {
        name: 'outbox_digested',
        help: 'notifications folded into a digest by flood control',
        value: f.digested,
      },
      {
        name: 'outbox_first_notify_p99_ms',
        help: 'first notification of an alarm, row written to sent, p99 of the last 1,000 (ms)',
        value: p99,
      },
    ];
  }

  private recordLatency(ms: number): void {
    const list = this.figures.firstNotifyLatencyMs;
    list.push(ms);
    if (list.length > 1000) list.splice(0, list.length - 1000);
  }

  private count(outcomes: ReadonlyMap<string, ActionOutcome>): void {
    for (const o of outcomes.values()) {
      if (o.status === 'retry') this.figures.retried++;
      else if (o.status !== 'postpone') this.figures[o.status]++;
    }
  }
}

/** The subject a follow-up row keeps from the row it follows. */
function carried(a: ClaimedAction): RowSubject {
  return { episodeId: a.episodeId, customerId: a.customerId, deviceId: a.deviceId, productId: a.productId };
}

/** What a row hands its channel. */
function deliveryPayload(a: ClaimedAction): Delivery['payload'] {
  switch (a.kind) {
    case 'notify':
    case 'remind':
    case 'clear':
    case 'engineer':
      return (a.payload as NotifyActionPayload).notification;
    case 'shadow': {
      const { commandIntervalMs: _, ...shadow } = (a.payload as FixActionPayload).shadow!;
      return shadow;
    }
    case 'firmware':
      return (a.payload as FixActionPayload).firmware!;
    default:
      return a.payload as Delivery['payload'];
  }
}

/** Reported and expected values compare as JSON (numbers, text, booleans, objects). */
function sameValue(reported: unknown, expected: unknown): boolean {
  return JSON.stringify(reported) === JSON.stringify(expected);
}
