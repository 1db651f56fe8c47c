/**
 * Whether what the decode stage made of a case's frame is what the case expects: the dead letter's
 * reason code (and a part of its message), or the telemetry, record by record. Of a record only the
 * fields the case gives are compared; its metrics, when given, must be exactly the record's metrics:
 * the same names, the same values, numbers up to {@link METRIC_TOLERANCE} (a scale of 0.1 makes
 * -53 into -5.300000000000001, and a case says -5.3).
 */
import { type ExpectedTelemetry, epochMsOf, type SpecCase } from '../../specs/cases.ts';
import type { Telemetry } from '../../topology/index.ts';
import type { FrameOutcome } from './specFrames.ts';

/** A field whose expected and actual values differ. */
export interface Difference {
  readonly field: string;
  readonly expected: string;
  readonly got: string;
}

/** Numbers within this much of the expected value (relative, above 1) are equal. */
export const METRIC_TOLERANCE = 1e-9;

const ABSENT = '(absent)';

function sameMetric(expected: unknown, got: unknown): boolean {
  if (typeof expected === 'number' && typeof got === 'number')
    return Math.abs(expected - got) <= METRIC_TOLERANCE * Math.max(1, Math.abs(expected));
  return Object.is(expected, got);
}

function shown(value: unknown): string {
  return value === undefined ? ABSENT : JSON.stringify(value);
}

function shownTime(epochMs: number | undefined): string {
  if (epochMs === undefined) return ABSENT;
  const date = new Date(epochMs);
  return Number.isNaN(date.getTime()) ? String(epochMs) : `${date.toISOString()} (${epochMs})`;
}

function outcomeInWords(outcome: FrameOutcome): string {
  if (outcome.deadLetter) return `dead letter ${outcome.deadLetter.code}: ${outcome.deadLetter.reason}`;
  const n = outcome.telemetry.length;
  return `${n} record${n === 1 ? '' : 's'}`;
}

/** The ids and times a case may give, as the record's fields. */
const SCALAR_FIELDS = [
  ['deviceId', 'device_id'],
  ['productId', 'productId'],
  ['hubId', 'hub_id'],
  ['childDeviceId', 'childDeviceId'],
] as const;
const TIME_FIELDS = [
  ['timestamp', 'device_timestamp'],
  ['hubTimestamp', 'hub_timestamp'],
] as const;

function recordDifferences(at: string, expected: ExpectedTelemetry, got: Telemetry): Difference[] {
  const out: Difference[] = [];
  for (const [key, field] of SCALAR_FIELDS) {
    const want = expected[key];
    if (want !== undefined && want !== got[field])
      out.push({ field: `${at}${key}`, expected: shown(want), got: shown(got[field]) });
  }
  for (const [key, field] of TIME_FIELDS) {
    const want = expected[key];
    if (want !== undefined && epochMsOf(want) !== got[field])
      out.push({ field: `${at}${key}`, expected: shownTime(epochMsOf(want)), got: shownTime(got[field]) });
  }
  if (expected.metrics !== undefined) {
    const names = new Set([...Object.keys(expected.metrics), ...Object.keys(got.metrics)]);
    for (const name of names) {
      const want = Object.hasOwn(expected.metrics, name) ? expected.metrics[name] : undefined;
      const value = Object.hasOwn(got.metrics, name) ? got.metrics[name] : undefined;
      if (!sameMetric(want, value))
        out.push({ field: `${at}metrics.${name}`, expected: shown(want), got: shown(value) });
    }
  }
  return out;
}

/** The differences between a case's expectation and the outcome; none when the case passes. */
export function caseDifferences(c: SpecCase, outcome: FrameOutcome): Difference[] {
  if (c.deadLetter) {
    if (!outcome.deadLetter)
      return [
        { field: 'outcome', expected: `dead letter ${c.deadLetter.code}`, got: outcomeInWords(outcome) },
      ];
    const out: Difference[] = [];
    if (outcome.deadLetter.code !== c.deadLetter.code)
      out.push({ field: 'deadLetter.code', expected: c.deadLetter.code, got: outcome.deadLetter.code });
    const part = c.deadLetter.message;
    if (part !== undefined && !outcome.deadLetter.reason.includes(part))
      out.push({
        field: 'deadLetter.message',
        expected: `containing ${JSON.stringify(part)}`,
        got: JSON.stringify(outcome.deadLetter.reason),
      });
    return out;
  }
  const expected = Array.isArray(c.expect) ? c.expect : [c.expect!];
  if (outcome.deadLetter) return [{ field: 'outcome', expected: 'telemetry', got: outcomeInWords(outcome) }];
  const got = outcome.telemetry;
  const out: Difference[] = [];
  if (got.length !== expected.length)
    out.push({ field: 'records', expected: String(expected.length), got: String(got.length) });
  const several = expected.length > 1 || got.length > 1;
  for (let i = 0; i < Math.min(expected.length, got.length); i++)
    out.push(...recordDifferences(several ? `[${i}].` : '', expected[i]!, got[i]!));
  return out;
}

/** A short account of the outcome, for the table's last column. */
export function outcomeSummary(outcome: FrameOutcome): string {
  return outcome.deadLetter ? outcome.deadLetter.code : outcomeInWords(outcome);
}
