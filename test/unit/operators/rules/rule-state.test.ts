/** The rule state's codec: a state with a running on-delay, a repeat ring and an open episode survives it. */
import { describe, expect, it } from 'vitest';
import { apply } from '../../../../operators/rules/episodes/index.ts';
import {
  emptyRuleState,
  parseRuleField,
  type RuleState,
  ruleField,
  ruleStateCodec,
} from '../../../../operators/rules/ruleState.ts';

const T0 = Date.UTC(2026, 0, 5);

describe('rule state', () => {
  it('round-trips through its codec, empty and with an open episode', () => {
    const empty = emptyRuleState('thermo-t1', null, 'customer-1');
    expect(ruleStateCodec.decode(ruleStateCodec.encode(empty))).toEqual(empty);
    const episode = apply(
      undefined,
      { kind: 'condition', at: T0, holds: true, value: 31.5, message: 'hot' },
      {
        ruleId: 'hot',
        rulesetVersion: 2,
        target: { kind: 'device', id: 'thermo-1' },
        productId: 'thermo-t1',
        customerId: 'customer-1',
        siteId: 'site-1',
        deviceId: 'thermo-1',
        policy: { severity: 'major' },
      },
    ).state;
    const busy: RuleState = {
      ...emptyRuleState('thermo-t1', 'site-1', 'customer-1'),
      pendingSince: T0 - 5_000,
      pendingValue: 30.25,
      clearSince: T0 + 1,
      holding: true,
      hits: [T0 - 60_000, T0 - 5_000],
      episode,
    };
    const bytes = ruleStateCodec.encode(busy);
    expect(ruleStateCodec.decode(bytes)).toEqual(busy);
    // small: one per rule and device
    expect(bytes.length).toBeLessThan(400);
  });

  it('names a field by rule and device, and reads it back', () => {
    expect(parseRuleField(ruleField('over-heat_2', 'hub-1/child-3'))).toEqual({
      ruleId: 'over-heat_2',
      deviceId: 'hub-1/child-3',
    });
  });
});
