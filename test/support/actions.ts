/**
 * Alarm episodes and events for the actions tests, and response policy sets parsed from YAML text as
 * an author writes them.
 */
import { parse } from 'yaml';
import { type ResponsePolicySet, responsePolicySetSchema } from '../../specs/responses/schema.ts';
import { type AlarmEvent, alarmEventId, type Episode, episodeId } from '../../topology/index.ts';

/** An active episode of rule `overheat` on `device` (product thermo-t1), with `over` on top. */
export function episodeOf(device: string, openedAt: number, over: Partial<Episode> = {}): Episode {
  const target = { kind: 'device' as const, id: device };
  return {
    id: episodeId('overheat', target, openedAt),
    ruleId: 'overheat',
    rulesetVersion: 1,
    target,
    productId: 'thermo-t1',
    customerId: 'cust-1',
    siteId: 'site-1',
    deviceId: device,
    severity: 'major',
    status: 'active',
    acknowledged: false,
    latched: false,
    assignee: null,
    shelvedUntil: null,
    openedAt,
    clearedAt: null,
    closedAt: null,
    lastEventSeq: 1,
    updatedAt: openedAt,
    flapping: false,
    value: 31.5,
    message: 'too hot',
    ...over,
  };
}

/** The `seq`-th event of `episode`, of `kind`, at `at`; the episode moved to `seq`. */
export function eventOf(
  kind: AlarmEvent['kind'],
  seq: number,
  episode: Episode,
  at: number,
  over: Partial<AlarmEvent> = {},
): AlarmEvent {
  return {
    id: alarmEventId(episode.id, seq),
    episodeId: episode.id,
    seq,
    kind,
    at,
    by: null,
    note: null,
    notify: kind === 'raise' || kind === 'clear',
    suppressed: false,
    episode: { ...episode, lastEventSeq: seq, updatedAt: at },
    ...over,
  };
}

/** A policy set from YAML text (defaults applied), failing loudly when it does not parse. */
export function policySetOf(yaml: string): ResponsePolicySet {
  return responsePolicySetSchema.parse(parse(yaml));
}
