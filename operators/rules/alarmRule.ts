/**
 * A compiled threshold rule on one device as the episode state machine sees it (`AlarmRule`): whom the
 * alarm concerns and its lifecycle policy. A product's five severities map to the platform's five by
 * rank (the product's lowest is `info`, its highest `critical`), since episodes, the stores and
 * `shardflow alarms` speak the platform's names.
 */
import { SEVERITIES, type Severity } from '../../topology/index.ts';
import type { CompiledThreshold } from './compile/compileRuleset.ts';
import type { AlarmRule, EpisodePolicy } from './episodes/index.ts';

const policies = new WeakMap<CompiledThreshold, EpisodePolicy>();

/** The platform's severity of a product's severity rank. */
export function platformSeverity(rank: number): Severity {
  return SEVERITIES[Math.min(Math.max(rank, 0), SEVERITIES.length - 1)]!;
}

/**
 * The episode policy of a compiled rule, made once per compiled rule. The state machine escalates one
 * step: the rule's first (the earliest; later steps are not applied yet).
 */
export function policyOf(rule: CompiledThreshold): EpisodePolicy {
  let policy = policies.get(rule);
  if (policy === undefined) {
    const step = rule.escalate[0];
    policy = {
      severity: platformSeverity(rule.severityRank),
      latched: rule.latched,
      ...(step === undefined ? {} : { escalate: { to: platformSeverity(step.rank), afterMs: step.afterMs } }),
      ...(rule.deescalateAfterMs === undefined ? {} : { deescalateAfterMs: rule.deescalateAfterMs }),
    };
    policies.set(rule, policy);
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

/** The rule on the device, for `apply` and `dueAt`. */
export function alarmRuleOf(rule: CompiledThreshold, subject: DeviceSubject): AlarmRule {
  return {
    ruleId: rule.id,
    rulesetVersion: subject.rulesetVersion,
    target: { kind: 'device', id: subject.deviceId },
    productId: subject.productId,
    customerId: subject.customerId,
    siteId: subject.siteId,
    deviceId: subject.deviceId,
    policy: policyOf(rule),
  };
}
