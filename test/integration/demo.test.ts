/**
 * `shardflow demo` as a user runs it: embedded kinesalite and PGlite, the real topology, and a
 * summary whose store totals must equal what was produced.
 */
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.ts';

describe('shardflow demo', () => {
  it('leaves per-product hourly counts that add up to every record produced', async () => {
    const result = await runCli([
      'demo',
      '--duration',
      '4',
      '--devices',
      '120',
      '--rate',
      '300',
      '--malformed',
      '0.02',
    ]);
    expect(result.stderr).not.toMatch(/shardflow: /);
    expect(result.code).toBe(0);
    const out = result.stdout;
    expect(out).toMatch(/\[\s+\d+s\] produced [\d,]+\s+processed [\d,]+/);
    const [, produced, counted, dead] = /produced (\d+), counted (\d+), dead letters (\d+)/.exec(out) ?? [];
    expect(Number(produced)).toBe(1200);
    expect(Number(counted) + Number(dead)).toBe(1200);
    expect(Number(counted)).toBeGreaterThan(0);
    for (const product of ['thermo-t1', 'meter-m2', 'air-a3'])
      expect(out).toMatch(new RegExp(`${product}\\s+[\\d,]+ records`));
    expect(out).toContain('every record accounted for');
    // every decoded record reached the Hot store, joined with its master data
    expect(/joined telemetry in the Hot store: (\d+)/.exec(out)?.[1]).toBe(counted);
    const customers = [...out.matchAll(/(cust-\d+)\s+[\d,]+ records \(daily customer aggregates\)/g)];
    expect(customers.length).toBeGreaterThan(0);
    expect(out).not.toContain('(unknown)');
  });
});
