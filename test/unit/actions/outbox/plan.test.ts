import { describe, expect, it } from 'vitest';
import { firmwareJobId, planActions } from '../../../../actions/outbox/plan.ts';
import { policiesOfSets } from '../../../../actions/policies/catalog.ts';
import { episodeOf, eventOf, policySetOf } from '../../../support/actions.ts';

const T0 = Date.UTC(2026, 11, 7, 10);
const SET = policySetOf(`
id: thermo-responses
productId: thermo-t1
version: 1
shadow: { settableKeys: [mode], commandInterval: 10m }
policies:
  - alarm: overheat
    notify:
      - { after: 0s, to: [{ email: ops@example.com }, { sns: "arn:aws:sns:eu-west-1:123456789012:alarms" }] }
      - { after: 15m, to: [{ webhook: "https://hooks.example.com/escalate" }] }
    remind: { every: 30m, max: 3, to: [{ email: ops@example.com }] }
    onClear: [{ email: ops@example.com }]
    remoteFix: { shadow: { desired: { mode: reset }, within: 2m } }
    dispatch: { skills: [hvac] }
  - alarm: "*"
    dispatch: { skills: [general] }
`);
const policyFor = policiesOfSets([SET]);
const ctx = { policyFor, now: T0 + 1_000, maxEventAgeMs: 3_600_000 };

describe('planActions', () => {
  const episode = episodeOf('thermo-001', T0);

  it('plans the chain, the first reminder and the remote fix of a raise, with keys from the episode', () => {
    const { rows, stop } = planActions([eventOf('raise', 1, episode, T0)], ctx);
    expect(stop).toEqual([]);
    expect(rows.map((r) => [r.key, r.kind, r.channel, r.dueAt - ctx.now, r.stopOnAck])).toEqual([
      [`${episode.id}/notify.1/email:ops@example.com`, 'notify', 'email', 0, true],
      [`${episode.id}/notify.1/sns:arn:aws:sns:eu-west-1:123456789012:alarms`, 'notify', 'sns', 0, true],
      [
        `${episode.id}/notify.2/webhook:https://hooks.example.com/escalate`,
        'notify',
        'webhook',
        900_000,
        true,
      ],
      [`${episode.id}/remind.1/email:ops@example.com`, 'remind', 'email', 1_800_000, true],
      [`${episode.id}/fix/shadow:thermo-001`, 'shadow', 'shadow', 0, false],
    ]);
    const fix = rows[4]!.payload as {
      shadow: { desired: unknown };
      verify: { expect: unknown; withinMs: number };
    };
    expect(fix.shadow.desired).toEqual({ mode: 'reset' });
    // without `expect`, the desired state is what the device must report
    expect(fix.verify).toMatchObject({
      expect: { mode: 'reset' },
      withinMs: 120_000,
      thingName: 'thermo-001',
    });
    const first = rows[0]!.payload as {
      notification: { subject: string; body: string; facts: Record<string, unknown> };
    };
    expect(`${first.notification.subject}\n${first.notification.body}`).toContain('thermo-001');
    expect(first.notification.facts).toMatchObject({
      episodeId: episode.id,
      severity: 'major',
      step: 'escalation 1',
    });
  });

  it('plans the same keys for the same events: a replay inserts nothing new', () => {
    const events = [
      eventOf('raise', 1, episode, T0),
      eventOf('clear', 2, episode, T0 + 60_000, {
        episode: { ...episode, status: 'cleared', lastEventSeq: 2 },
      }),
    ];
    const first = planActions(events, ctx).rows.map((r) => r.key);
    const again = planActions(events, {
      ...ctx,
      now: ctx.now + 86_400_000,
      maxEventAgeMs: 10 * 86_400_000,
    }).rows.map((r) => r.key);
    expect(again).toEqual(first);
    expect(first).toContain(`${episode.id}/clear.2/email:ops@example.com`);
  });

  it('stops the stoppable rows on an acknowledgement, a close, and a clear that is not latched', () => {
    const ack = eventOf('acknowledge', 2, episode, T0, { notify: false });
    const close = eventOf('close', 3, episodeOf('thermo-002', T0), T0, { notify: false });
    const latchedClear = eventOf('clear', 2, episodeOf('thermo-003', T0, { latched: true }), T0, {
      notify: false,
    });
    const clear = eventOf('clear', 2, episodeOf('thermo-004', T0), T0, { notify: false });
    expect(planActions([ack, close, latchedClear, clear], ctx).stop.sort()).toEqual(
      [ack.episodeId, close.episodeId, clear.episodeId].sort(),
    );
  });

  it('plans nothing for a suppressed raise, an unknown product, or an event without a notification', () => {
    expect(planActions([eventOf('raise', 1, episode, T0, { suppressed: true })], ctx).rows).toEqual([]);
    expect(planActions([eventOf('raise', 1, episode, T0, { notify: false })], ctx).rows).toEqual([]);
    const none = { ...ctx, policyFor: () => undefined };
    expect(planActions([eventOf('raise', 1, episode, T0)], none).rows).toEqual([]);
  });

  it('records an event older than the limit as expired, acting on nothing', () => {
    const old = planActions([eventOf('raise', 1, episode, T0)], { ...ctx, now: T0 + 7_200_000 });
    expect(old.rows.length).toBeGreaterThan(0);
    expect(new Set(old.rows.map((r) => r.status))).toEqual(new Set(['expired']));
  });

  it('dispatches at once when the matching policy has no remote fix or the alarm names no device', () => {
    const other = episodeOf('thermo-005', T0, { ruleId: 'humid' });
    const rows = planActions([eventOf('raise', 1, other, T0)], ctx).rows;
    expect(rows.map((r) => [r.kind, r.key])).toEqual([
      ['dispatch', `${other.id}/dispatch/outbox:technician`],
    ]);
    const site = episodeOf('x', T0, { deviceId: null, target: { kind: 'site', id: 'site-1' } });
    expect(planActions([eventOf('raise', 1, site, T0)], ctx).rows.at(-1)).toMatchObject({ kind: 'dispatch' });
  });

  it('derives a firmware job id from the episode and the version, as IoT Jobs accepts it', () => {
    const id = firmwareJobId('abc', '2.4.1');
    expect(id).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
    expect(firmwareJobId('abc', '2.4.1')).toBe(id);
    expect(firmwareJobId('abc', '2.4.2')).not.toBe(id);
  });
});
