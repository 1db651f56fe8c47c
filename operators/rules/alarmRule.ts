/**
 * A compiled threshold rule on one device as the episode state machine sees it (`AlarmRule`): whom the
 * alarm concerns and its lifecycle policy. A product's five severities map to the platform's five by
 * rank (the product's lowest is `info`, its highest `critical`), since episodes, the stores and
 * `shardflow alarms` speak the platform's names. Escalation goes step by step (see `policyOf`).
 */
import { platformSeverity, type Severity, severityRank } from '../../topology/index.ts';
import type { CompiledThreshold } from './compile/compileRuleset.ts';
import type { AlarmRule, EpisodePolicy } from './episodes/index.ts';

/** What the episode policy is made of: the fields every compiled rule has (threshold, detector, absence). */
export type PolicySource = Pick<
  CompiledThreshold,
  'severityRank' | 'latched' | 'escalate' | 'deescalateAfterMs'
>;

const policies = new WeakMap<PolicySource, EpisodePolicy[]>();

/**
 * The episode policy of a compiled rule for an episode now at `severity` (none: not raised yet). The
 * state machine takes one escalation step, so the policy names the next one: the first step above the
 * episode's severity, each `afterMs` counted from when it became active. Made once per rule and step.
 */
export function policyOf(rule: PolicySource, severity?: Severity): EpisodePolicy {
  let byStep = policies.get(rule);
  if (byStep === undefined) {
    byStep = [];
    policies.set(rule, byStep);
  }
  const current = severity === undefined ? -1 : severityRank(severity);
  let next = rule.escalate.findIndex((s) => severityRank(platformSeverity(s.rank)) > current);
  if (next < 0) next = rule.escalate.length;
  let policy = byStep[next];
  if (policy === undefined) {
    const step = rule.escalate[next];
    policy = {
      severity: platformSeverity(rule.severityRank),
      latched: rule.latched,
      ...(step === undefined ? {} : { escalate: { to: platformSeverity(step.rank), afterMs: step.afterMs } }),
      ...(rule.deescalateAfterMs === undefined ? {} : { deescalateAfterMs: rule.deescalateAfterMs }),
    };
    byStep[next] = policy;
  }
  return policy;
}

/** Whom a rule's alarm on a device concerns. */
export interface DeviceSubject {
  readonly rulesetVersion: number;
  readonly productId: string;
  readonly deviceId: string;
  readonly siteId: string | null;
  readonly customerId: string | null;
}

/** The rule on the device, for `apply` and `dueAt` on an episode now at `severity`. */
export function alarmRuleOf(
  rule: PolicySource & { readonly id: string },
  subject: DeviceSubject,
  severity?: Severity,
): AlarmRule {
  return {
    ruleId: rule.id,
    rulesetVersion: subject.rulesetVersion,
    target: { kind: 'device', id: subject.deviceId },
    productId: subject.productId,
    customerId: subject.customerId,
    siteId: subject.siteId,
    deviceId: subject.deviceId,
    policy: policyOf(rule, severity),
  };
}
