/**
 * The dispatch state machine: assigned → accepted → en_route → on_site → resolved, one step at a
 * time; `cancelled` from any state but the two final ones; the engineer may change until the
 * technician is on site (a reassignment puts the dispatch back to `assigned`, for the new engineer to
 * accept). Pure: `updateDispatch` applies it under the row's lock.
 */
import type { DispatchStatus } from './types.ts';

/** The next status in the forward order, for each status that has one. */
const NEXT: Partial<Record<DispatchStatus, DispatchStatus>> = {
  assigned: 'accepted',
  accepted: 'en_route',
  en_route: 'on_site',
  on_site: 'resolved',
};

const FINAL: ReadonlySet<DispatchStatus> = new Set(['resolved', 'cancelled']);

/** A change a dispatch cannot take; the message names the dispatch and both states. */
export class DispatchTransitionError extends Error {
  override readonly name = 'DispatchTransitionError';
}

/** What a requested change leads to. */
export interface Transition {
  readonly status: DispatchStatus;
  readonly engineerId: string | null;
}

/**
 * The dispatch's status and engineer after a change, or a {@link DispatchTransitionError}. A change
 * of engineer alone (no status) returns the dispatch to `assigned`.
 */
export function transition(
  dispatchId: string,
  from: { readonly status: DispatchStatus; readonly engineerId: string | null },
  change: { readonly status?: DispatchStatus; readonly engineerId?: string },
): Transition {
  const reassign = change.engineerId !== undefined && change.engineerId !== from.engineerId;
  const to = change.status ?? (reassign ? 'assigned' : from.status);
  const refuse = (why: string) =>
    new DispatchTransitionError(`dispatch ${dispatchId}: cannot go from ${from.status} to ${to}: ${why}`);
  if (change.status === undefined && change.engineerId === undefined)
    throw new DispatchTransitionError(
      `dispatch ${dispatchId}: nothing to change (give a status or an engineer)`,
    );
  if (FINAL.has(from.status)) throw refuse(`${from.status} is final`);
  if (reassign) {
    if (from.status === 'on_site') throw refuse('the engineer cannot change once on site');
    if (to !== 'assigned' && to !== 'cancelled')
      throw refuse('a new engineer starts at assigned (accept it next)');
    return { status: to, engineerId: change.engineerId! };
  }
  if (to === 'cancelled') return { status: to, engineerId: from.engineerId };
  if (to === from.status) throw refuse('it is already there');
  if (NEXT[from.status] !== to) throw refuse(`the next status is ${NEXT[from.status]}`);
  if (from.engineerId === null) throw refuse('no engineer is assigned (give one with --engineer)');
  return { status: to, engineerId: from.engineerId };
}
