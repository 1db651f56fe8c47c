import { describe, expect, it } from 'vitest';
import {
  compileFormula,
  type DayAggregate,
  evaluateDay,
  outcomeOf,
  versionsInForce,
} from '../../../../sinks/formulas/index.ts';
import type { Version } from '../../../../sinks/formulas/inForce.ts';
import type { Formula } from '../../../../specs/formulas/schema.ts';
import type { MetricStats } from '../../../../topology/index.ts';
import { formula } from '../../../support/formulas.ts';

const stats = (values: number[]): MetricStats => {
  const count = values.length;
  const sum = values.reduce((a, b) => a + b, 0);
  const mean = count > 0 ? sum / count : 0;
  return {
    count,
    sum,
    min: Math.min(...values),
    max: Math.max(...values),
    mean,
    m2: values.reduce((a, v) => a + (v - mean) ** 2, 0),
    first: values[0] ?? 0,
    firstAt: 1_000,
    last: values.at(-1) ?? 0,
    lastAt: 2_000,
  };
};
const day = (entries: Record<string, [number[], number]>) =>
  new Map<string, DayAggregate>(
    Object.entries(entries).map(([m, [values, revision]]) => [m, { stats: stats(values), revision }]),
  );
const inForce = (...formulas: Formula[]) => new Map(formulas.map((f) => [f.id, compileFormula(f)]));

describe('a day’s formulas', () => {
  const cop = formula({
    id: 'cop',
    expression: 'heat / power',
    variables: { heat: { metric: 'heat', stat: 'sum' }, power: { metric: 'power', stat: 'sum' } },
    decimals: 2,
    unit: '1',
  });
  const copPct = formula({
    id: 'cop-pct',
    expression: 'c * 100 + v',
    variables: { c: { formula: 'cop' }, v: { metric: 'temp', stat: 'variance' } },
  });

  it('evaluates each statistic, rounds to the decimals and sums the input revisions', () => {
    const results = evaluateDay(inForce(cop), day({ heat: [[4, 6], 5], power: [[1, 2], 7], temp: [[1], 3] }));
    expect(results.map((r) => [r.formula.formula.id, r.value, r.reason, r.inputRevision])).toEqual([
      ['cop', 3.33, undefined, 12],
    ]);
  });

  it('evaluates a formula reading a formula after it, with the revisions of both inputs', () => {
    const results = evaluateDay(
      inForce(copPct, cop),
      day({ heat: [[4, 6], 5], power: [[1, 2], 7], temp: [[1, 3], 9] }),
    );
    // in the map's order; cop evaluated once, first, as cop-pct's input
    expect(results.map((r) => [r.formula.formula.id, r.value, r.inputRevision])).toEqual([
      ['cop-pct', 333 + 1, 21], // variance of 1, 3 (population): 1
      ['cop', 3.33, 12],
    ]);
  });

  it('gives no result, with the reason, for a missing metric, a division by zero and NaN', () => {
    const ratio = formula({
      id: 'r',
      expression: 'a / b',
      variables: { a: { metric: 'x', stat: 'sum' }, b: { metric: 'y', stat: 'sum' } },
    });
    const outcome = (d: Map<string, DayAggregate>) =>
      evaluateDay(inForce(ratio), d).map((r) => [r.value, r.reason]);
    expect(outcome(day({ x: [[1], 3] }))).toEqual([[undefined, 'no aggregate of metric "y" for the day']]);
    expect(outcome(day({ x: [[1], 3], y: [[0], 3] }))).toEqual([
      [undefined, 'the result is infinite (division by zero or overflow)'],
    ]);
    expect(outcome(day({ x: [[0], 3], y: [[0], 3] }))).toEqual([
      [undefined, expect.stringMatching(/^the result is not a number \(NaN/)],
    ]);
  });

  it('passes a missing input on to the formulas that read it', () => {
    const results = evaluateDay(inForce(cop, copPct), day({ heat: [[1], 3], temp: [[1], 3] }));
    expect(results.map((r) => r.reason)).toEqual([
      'no aggregate of metric "power" for the day',
      'formula "cop" has no result: no aggregate of metric "power" for the day',
    ]);
    expect(evaluateDay(inForce(copPct), day({ temp: [[1], 3] }))[0]!.reason).toBe(
      'formula "cop" is not in force here',
    );
  });

  it('keeps a boolean result as 1 or 0 and never returns -0', () => {
    expect(outcomeOf(true)).toEqual({ value: 1 });
    expect(outcomeOf(-0)).toEqual({ value: 0 });
    expect(outcomeOf(-0.004, 2)).toEqual({ value: 0 });
    expect(outcomeOf('x')).toEqual({ reason: 'the result is not a number (string)' });
  });
});

describe('the version in force', () => {
  const index = (...formulas: Formula[]) => {
    const byId = new Map<string, Version[]>();
    for (const f of formulas)
      byId.set(f.id, [
        ...(byId.get(f.id) ?? []),
        { compiled: compileFormula(f), targets: new Set(f.targets) },
      ]);
    return byId;
  };
  const DAY = Date.parse('2026-12-01T00:00:00Z');
  const versionOf = (m: Map<string, { formula: Formula }>, id = 'f') => m.get(id)?.formula.version;

  it('is the most specific scope, then the highest version, from its first day', () => {
    const versions = index(
      formula({ version: 1 }),
      formula({ version: 2, effectiveFrom: '2026-12-02' }),
      formula({ version: 3, scope: 'customer', targets: ['acme'] }),
      formula({ version: 4, status: 'draft' }),
      formula({ version: 5, scope: 'device', targets: ['d1'] }),
    );
    const customer = (customerId: string | null, at: number) =>
      versionOf(versionsInForce(versions, { kind: 'customer', customerId }, at));
    expect(customer('other', DAY)).toBe(1);
    expect(customer('other', DAY + 86_400_000)).toBe(2);
    expect(customer(null, DAY + 86_400_000)).toBe(2);
    expect(customer('acme', DAY + 86_400_000)).toBe(3);
    expect(versionOf(versionsInForce(versions, { kind: 'device', deviceId: 'd1' }, DAY))).toBe(5);
    expect(versionOf(versionsInForce(versions, { kind: 'device', deviceId: 'd2' }, DAY))).toBeUndefined();
  });

  it('takes a recompute’s candidate at its scope, not over a more specific version', () => {
    const versions = index(
      formula({ version: 1 }),
      formula({ version: 2, scope: 'customer', targets: ['acme'] }),
    );
    const candidate = compileFormula(formula({ version: 7, status: 'draft', effectiveFrom: '2030-01-01' }));
    const at = (customerId: string) =>
      versionsInForce(versions, { kind: 'customer', customerId }, DAY, candidate).get('f');
    expect(at('other')).toBe(candidate);
    expect(at('acme')?.formula.version).toBe(2);
  });
});
