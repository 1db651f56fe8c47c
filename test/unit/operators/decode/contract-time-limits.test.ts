/**
 * The contract's limits on the event time: their defaults (5 minutes ahead, 30 days old) hold when a
 * spec says nothing, are stated in the JSON Schema, and each can be switched off with `off`.
 */
import { describe, expect, it } from 'vitest';
import { compileContract } from '../../../../operators/decode/contract.ts';
import { DecodeError } from '../../../../operators/decode/errors.ts';
import { parseSpec } from '../../../../specs/loader.ts';
import { MAX_AGE_MS, MAX_FUTURE_SKEW_MS, type Spec, specJsonSchema } from '../../../../specs/schema.ts';

const NOW = Date.UTC(2026, 10, 22, 9, 31);
const YEAR_MS = 365 * 24 * 3_600_000;

/** A small JSON spec with the given `contract:` lines. */
function specWith(contract: string[]): { spec?: Spec; problems: { line: number; message: string }[] } {
  return parseSpec(
    'limits.yaml',
    [
      'id: limits',
      'version: 1',
      'productId: limits',
      'match: { productId: limits }',
      'format: { type: json, fields: { ts: ts, t: t } }',
      'telemetry: { deviceId: { from: topic }, timestamp: { field: ts, kind: epoch-ms } }',
      ...(contract.length > 0 ? ['contract:', ...contract.map((l) => `  ${l}`)] : []),
    ].join('\n'),
  );
}

/** The reason code the compiled contract gives an event time, or `ok`. */
function verdict(spec: Spec, deviceTimestamp: number): string {
  try {
    compileContract(spec.contract)({ t: 1 }, deviceTimestamp, NOW);
    return 'ok';
  } catch (error) {
    if (error instanceof DecodeError) return error.code;
    throw error;
  }
}

describe("the contract's time limits", () => {
  it('default to 5 minutes ahead and 30 days old', () => {
    const { spec } = specWith([]);
    expect(spec!.contract).toMatchObject({ maxFutureSkewMs: 300_000, maxAgeMs: 2_592_000_000 });
    expect(verdict(spec!, NOW - MAX_AGE_MS + 1000)).toBe('ok');
    expect(verdict(spec!, NOW - MAX_AGE_MS - 1000)).toBe('clock-skew');
    expect(verdict(spec!, NOW + MAX_FUTURE_SKEW_MS - 1000)).toBe('ok');
    expect(verdict(spec!, NOW + MAX_FUTURE_SKEW_MS + 1000)).toBe('clock-skew');
  });

  it('maxAgeMs: off keeps a reading of a year ago and still refuses one from the future', () => {
    const { spec, problems } = specWith(['maxAgeMs: off']);
    expect(problems).toEqual([]);
    expect(verdict(spec!, NOW - YEAR_MS)).toBe('ok');
    expect(verdict(spec!, NOW + 3_600_000)).toBe('clock-skew');
  });

  it('maxFutureSkewMs: off keeps a reading from the future and still refuses an old one', () => {
    const { spec } = specWith(['maxFutureSkewMs: off']);
    expect(verdict(spec!, NOW + YEAR_MS)).toBe('ok');
    expect(verdict(spec!, NOW - YEAR_MS)).toBe('clock-skew');
  });

  it('both off: any event time passes', () => {
    const { spec } = specWith(['maxFutureSkewMs: off', 'maxAgeMs: off']);
    expect(verdict(spec!, NOW + YEAR_MS)).toBe('ok');
    expect(verdict(spec!, NOW - 10 * YEAR_MS)).toBe('ok');
  });

  it('a value that is neither milliseconds nor off is refused at its line, saying what is allowed', () => {
    const { problems } = specWith(['maxFutureSkewMs: 1000', 'maxAgeMs: none']);
    expect(problems).toEqual([
      {
        file: 'limits.yaml',
        line: 9,
        message: expect.stringContaining(
          'contract.maxAgeMs: milliseconds (a whole number, 0 or more) or off (no limit)',
        ),
      },
    ]);
  });

  it('the JSON Schema states the defaults and that off switches a limit off', () => {
    const contract = (specJsonSchema() as { properties: Record<string, { properties: object }> }).properties
      .contract!.properties as Record<string, { description: string }>;
    expect(contract.maxFutureSkewMs!.description).toContain('default 300000 (5 minutes)');
    expect(contract.maxAgeMs!.description).toContain('default 2592000000 (30 days)');
    expect(contract.maxAgeMs!.description).toContain('off: no limit');
  });
});
