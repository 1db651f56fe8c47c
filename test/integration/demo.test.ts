/**
 * `shardflow demo` as a user runs it: embedded kinesalite and PGlite, the real topology, and a
 * summary whose stores must account for every record produced.
 */
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.ts';

describe('shardflow demo', () => {
  it('leaves Hot telemetry and dead letters that add up to every record produced', async () => {
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
    const [, produced, stored, dead] = /produced (\d+), stored (\d+), dead letters (\d+)/.exec(out) ?? [];
    expect(Number(produced)).toBe(1200);
    expect(Number(stored) + Number(dead)).toBe(1200);
    expect(Number(stored)).toBeGreaterThan(0);
    for (const product of ['thermo-t1', 'meter-m2', 'air-a3'])
      expect(out).toMatch(new RegExp(`${product}\\s+[\\d,]+ records`));
    expect(out).toContain('every record accounted for');
    // one reading per record: every decoded record is one Hot row, joined with its master data
    expect(/joined telemetry in the Hot store: (\d+)/.exec(out)?.[1]).toBe(stored);
    const customers = [...out.matchAll(/(cust-\d+)\s+[\d,]+ records \(daily customer aggregates\)/g)];
    expect(customers.length).toBeGreaterThan(0);
    expect(out).not.toContain('(unknown)');
  });
});
