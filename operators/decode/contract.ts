/**
 * A product's data contract, compiled: required metrics, types, ranges, allowed values, the clock
 * skew allowed for the event time (either limit may be switched off), and what a device id looks
 * like. A violated metric either rejects the record or is dropped while the record is kept, as the
 * spec says per metric.
 *
 * The check is generated as straight-line code (`new Function`): one named property read and a few
 * comparisons per metric, instead of a loop over rule objects. The generated text holds metric names
 * that pass the spec's name pattern (emitted through `JSON.stringify`), finite numbers from the spec
 * and rule indexes; never payload data. Messages are built only on a violation.
 */
import type { MetricContract, Spec } from '../../specs/schema.ts';
import { DecodeError } from './errors.ts';
import type { FieldValue } from './frame.ts';
import { quoted } from './storable.ts';

/** Checks (and trims) one record's metrics and event time; throws `DecodeError` to reject it. */
export type ContractCheck = (
  metrics: Record<string, FieldValue>,
  deviceTimestamp: number,
  now: number,
) => Record<string, FieldValue>;

/** What the generated check calls on the rare paths. */
interface ContractHelpers {
  skew(deviceTimestamp: number, now: number): void;
  missing(rule: number): never;
  violated(
    rule: number,
    code: 'contract-type' | 'contract-range' | 'contract-allowed',
    value: FieldValue,
  ): DecodeError;
  readonly allowed: readonly (ReadonlySet<string | number | boolean> | undefined)[];
}

/** Compiles the contract of a spec. */
export function compileContract(contract: Spec['contract']): ContractCheck {
  // `__proto__` passes the name pattern but is no property of a metrics object
  const rules = Object.entries(contract.metrics).filter(([metric]) => metric !== '__proto__');
  const { maxFutureSkewMs, maxAgeMs } = contract;
  const helpers: ContractHelpers = {
    skew(deviceTimestamp, now) {
      if (deviceTimestamp > now + maxFutureSkewMs) {
        throw new DecodeError(
          'clock-skew',
          `event time ${isoOf(deviceTimestamp)} is more than ${maxFutureSkewMs} ms in the future`,
        );
      }
      throw new DecodeError(
        'clock-skew',
        `event time ${isoOf(deviceTimestamp)} is older than ${maxAgeMs} ms`,
      );
    },
    missing(i) {
      throw new DecodeError('contract-missing', `required metric "${rules[i]![0]}" is missing`);
    },
    violated(i, code, value) {
      const [metric, rule] = rules[i]!;
      return new DecodeError(code, violationMessage(metric, rule, code, value));
    },
    allowed: rules.map(([, rule]) => (rule.allowed === undefined ? undefined : new Set(rule.allowed))),
  };
  // a limit switched off (`off` in the spec: Infinity) has no comparison at all
  const limits = [
    ...(maxFutureSkewMs === Number.POSITIVE_INFINITY ? [] : [`ts > now + ${finite(maxFutureSkewMs)}`]),
    ...(maxAgeMs === Number.POSITIVE_INFINITY ? [] : [`ts < now - ${finite(maxAgeMs)}`]),
  ];
  const lines: string[] = [
    // NaN times compare false both ways, as in the rule they replace
    ...(limits.length > 0 ? [`if (${limits.join(' || ')}) k.skew(ts, now);`] : []),
    'let x;',
  ];
  rules.forEach(([metric, rule], i) => {
    lines.push(ruleCode(metric, rule, i));
  });
  lines.push('return m;');
  const source = `return function checkContract(m, ts, now) {\n${lines.join('\n')}\n};`;
  return new Function('k', source)(helpers) as ContractCheck;
}

/**
 * The check of the contract's `deviceId` rule, or `undefined` when the contract has none: a device
 * id that is shorter, longer or off the pattern is a `contract-id` dead letter.
 */
export function compileDeviceIdRule(
  rule: Spec['contract']['deviceId'],
): ((deviceId: string) => void) | undefined {
  if (rule === undefined) return undefined;
  const pattern = rule.pattern === undefined ? undefined : new RegExp(rule.pattern, 'u');
  const min = rule.minLength ?? 0;
  const max = rule.maxLength ?? Number.POSITIVE_INFINITY;
  return function checkDeviceId(id) {
    const problem =
      id.length < min
        ? `is shorter than ${min} characters`
        : id.length > max
          ? `is longer than ${max} characters`
          : pattern !== undefined && !pattern.test(id)
            ? `does not match ${rule.pattern}`
            : undefined;
    if (problem !== undefined) throw new DecodeError('contract-id', `device id ${quoted(id)} ${problem}`);
  };
}

function ruleCode(metric: string, rule: MetricContract, i: number): string {
  const key = JSON.stringify(metric);
  const fail = (code: string) =>
    rule.onViolation === 'reject' ? `throw k.violated(${i}, '${code}', x);` : `delete m[${key}];`;
  const branches = [`if (typeof x !== '${rule.type}') { ${fail('contract-type')} }`];
  if (rule.type === 'number') {
    const bounds: string[] = [];
    if (rule.min !== undefined) bounds.push(`x < ${finite(rule.min)}`);
    if (rule.max !== undefined) bounds.push(`x > ${finite(rule.max)}`);
    if (bounds.length > 0) branches.push(`if (${bounds.join(' || ')}) { ${fail('contract-range')} }`);
  }
  if (rule.allowed !== undefined)
    branches.push(`if (!k.allowed[${i}].has(x)) { ${fail('contract-allowed')} }`);
  const absent = rule.required ? `k.missing(${i});` : '';
  return `x = m[${key}];\nif (x === undefined || x === null) { ${absent} }\nelse ${branches.join('\nelse ')}`;
}

function violationMessage(metric: string, rule: MetricContract, code: string, value: FieldValue): string {
  switch (code) {
    case 'contract-type':
      return `metric "${metric}" should be a ${rule.type}, is ${JSON.stringify(value)}`;
    case 'contract-range':
      return `metric "${metric}" = ${value} is outside [${rule.min ?? '-∞'}, ${rule.max ?? '∞'}]`;
    default:
      return `metric "${metric}" = ${JSON.stringify(value)} is not one of ${JSON.stringify(rule.allowed)}`;
  }
}

function isoOf(epochMs: number): string {
  const date = new Date(epochMs);
  return Number.isNaN(date.getTime()) ? String(epochMs) : date.toISOString();
}

function finite(n: number): string {
  if (!Number.isFinite(n)) throw new Error(`contract: not a finite number: ${n}`);
  return `(${String(n)})`;
}
