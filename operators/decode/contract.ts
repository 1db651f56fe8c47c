/**
 * A product's data contract, compiled: required metrics, types, ranges, allowed values, and the
 * clock skew allowed for the event time. A violated metric either rejects the record or is dropped
 * while the record is kept, as the spec says per metric.
 */
import type { Spec } from '../../specs/schema.ts';
import { DecodeError } from './errors.ts';
import type { FieldValue } from './frame.ts';

/** Checks (and trims) one record's metrics and event time; throws `DecodeError` to reject it. */
export type ContractCheck = (
  metrics: Record<string, FieldValue>,
  deviceTimestamp: number,
  now: number,
) => Record<string, FieldValue>;

/** Compiles the contract of a spec. */
export function compileContract(contract: Spec['contract']): ContractCheck {
  const rules = Object.entries(contract.metrics);
  const { maxFutureSkewMs, maxAgeMs } = contract;
  return function checkContract(metrics, deviceTimestamp, now) {
    if (deviceTimestamp > now + maxFutureSkewMs) {
      throw new DecodeError(
        'clock-skew',
        `event time ${new Date(deviceTimestamp).toISOString()} is more than ${maxFutureSkewMs} ms in the future`,
      );
    }
    if (deviceTimestamp < now - maxAgeMs) {
      throw new DecodeError(
        'clock-skew',
        `event time ${new Date(deviceTimestamp).toISOString()} is older than ${maxAgeMs} ms`,
      );
    }
    for (const [metric, rule] of rules) {
      const value = metrics[metric];
      if (value === undefined || value === null) {
        if (rule.required)
          throw new DecodeError('contract-missing', `required metric "${metric}" is missing`);
        continue;
      }
      let violation: DecodeError | undefined;
      if (typeof value !== rule.type) {
        violation = new DecodeError(
          'contract-type',
          `metric "${metric}" should be a ${rule.type}, is ${JSON.stringify(value)}`,
        );
      } else if (
        typeof value === 'number' &&
        ((rule.min !== undefined && value < rule.min) || (rule.max !== undefined && value > rule.max))
      ) {
        violation = new DecodeError(
          'contract-range',
          `metric "${metric}" = ${value} is outside [${rule.min ?? '-∞'}, ${rule.max ?? '∞'}]`,
        );
      } else if (rule.allowed !== undefined && !rule.allowed.includes(value)) {
        violation = new DecodeError(
          'contract-allowed',
          `metric "${metric}" = ${JSON.stringify(value)} is not one of ${JSON.stringify(rule.allowed)}`,
        );
      }
      if (violation === undefined) continue;
      if (rule.onViolation === 'reject') throw violation;
      delete metrics[metric];
    }
    return metrics;
  };
}
