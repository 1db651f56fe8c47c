/**
 * The workload of `bench:rules`: its generated rulesets pass the loader and checks, have the gates
 * they promise, and their compiled conditions agree with the interpretive evaluator on its readings;
 * a reading depends only on its shard and position, so every run judges the same ones.
 */
import { describe, expect, it } from 'vitest';
import { interpretClear, interpretCondition } from '../../../bench/interpretiveRules.ts';
import { RulesFleet, rulesProducts } from '../../../bench/rulesWorkload.ts';
import type { CompiledThreshold } from '../../../operators/rules/compile/compileRuleset.ts';
import type { ThresholdRule } from '../../../specs/rules/schema.ts';

const products = rulesProducts(3, 20, 5, 1);

describe('bench:rules workload', () => {
  it('gives every product 20 threshold rules, 5 of them with on-delay, hysteresis, repeat or off-delay', () => {
    for (const p of products) {
      const rules = p.ruleset.rules as ThresholdRule[];
      expect(rules.every((r) => r.kind === 'threshold')).toBe(true);
      expect(rules).toHaveLength(20);
      const gated = rules.filter(
        (r) =>
          r.onDelay !== undefined ||
          r.offDelay !== undefined ||
          r.repeat !== undefined ||
          r.clear !== undefined,
      );
      expect(gated).toHaveLength(5);
    }
  });

  it('judges its readings alike with the compiled rules and the interpretive evaluator, some true, some unknown', () => {
    const fleet = new RulesFleet(400, 2, products, 1);
    const verdicts = { true: 0, unknown: 0, all: 0 };
    for (let s = 0; s < 2; s++)
      for (let seq = 0; seq < 1000; seq++) {
        const r = fleet.reading(s, seq);
        const p = products.find((x) => x.productId === r.productId)!;
        const compiled = p.compiled.rules as CompiledThreshold[];
        (p.ruleset.rules as ThresholdRule[]).forEach((rule, j) => {
          const v = compiled[j]!.condition(r);
          expect(v).toBe(interpretCondition(rule.when, r.metrics));
          expect(compiled[j]!.clear(r)).toBe(interpretClear(rule, r.metrics));
          verdicts.all++;
          if (v === true) verdicts.true++;
          if (v === undefined) verdicts.unknown++;
        });
      }
    expect(verdicts.true).toBeGreaterThan(0);
    expect(verdicts.true).toBeLessThan(verdicts.all / 4);
    expect(verdicts.unknown).toBeGreaterThan(0);
  });

  it('makes the same reading of the same shard and position, whatever came before', () => {
    const a = new RulesFleet(100, 2, products, 7);
    const b = new RulesFleet(100, 2, products, 7);
    for (let i = 0; i < 50; i++) a.reading(1, i);
    expect(a.reading(1, 50)).toEqual(b.reading(1, 50));
    expect(a.reading(0, 3).device_timestamp).toBeLessThan(a.reading(0, 3 + 50).device_timestamp);
  });
});
