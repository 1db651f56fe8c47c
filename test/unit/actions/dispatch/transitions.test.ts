/** The dispatch state machine: forward one step, cancel until final, reassign until on site. */
import { describe, expect, it } from 'vitest';
import { DispatchTransitionError, transition } from '../../../../actions/dispatch/transitions.ts';

const at = (status: Parameters<typeof transition>[1]['status'], engineerId: string | null = 'eng-a') => ({
  status,
  engineerId,
});

describe('dispatch transitions', () => {
  it('moves forward one step at a time, keeping the engineer', () => {
    expect(transition('d-1', at('assigned'), { status: 'accepted' })).toEqual(at('accepted'));
    expect(transition('d-1', at('accepted'), { status: 'en_route' })).toEqual(at('en_route'));
    expect(transition('d-1', at('en_route'), { status: 'on_site' })).toEqual(at('on_site'));
    expect(transition('d-1', at('on_site'), { status: 'resolved' })).toEqual(at('resolved'));
  });

  it('refuses a skipped step, a step back and any step from a final state, naming both states', () => {
    expect(() => transition('d-1', at('assigned'), { status: 'on_site' })).toThrow(
      'dispatch d-1: cannot go from assigned to on_site: the next status is accepted',
    );
    expect(() => transition('d-1', at('en_route'), { status: 'accepted' })).toThrow(DispatchTransitionError);
    expect(() => transition('d-1', at('resolved'), { status: 'cancelled' })).toThrow(
      'dispatch d-1: cannot go from resolved to cancelled: resolved is final',
    );
    expect(() => transition('d-1', at('cancelled'), { status: 'assigned' })).toThrow('cancelled is final');
    expect(() => transition('d-1', at('accepted'), { status: 'accepted' })).toThrow('already there');
  });

  it('cancels from any open state', () => {
    for (const s of ['assigned', 'accepted', 'en_route', 'on_site'] as const)
      expect(transition('d-1', at(s), { status: 'cancelled' }).status).toBe('cancelled');
  });

  it('reassigns before on site, back to assigned; not once on site', () => {
    expect(transition('d-1', at('en_route'), { engineerId: 'eng-b' })).toEqual(at('assigned', 'eng-b'));
    expect(transition('d-1', at('assigned', null), { engineerId: 'eng-b' })).toEqual(at('assigned', 'eng-b'));
    expect(() => transition('d-1', at('on_site'), { engineerId: 'eng-b' })).toThrow(
      'cannot go from on_site to assigned: the engineer cannot change once on site',
    );
    expect(() => transition('d-1', at('accepted'), { engineerId: 'eng-b', status: 'en_route' })).toThrow(
      'a new engineer starts at assigned',
    );
  });

  it('does not accept a dispatch that waits for an engineer', () => {
    expect(() => transition('d-1', at('assigned', null), { status: 'accepted' })).toThrow('no engineer');
  });
});
