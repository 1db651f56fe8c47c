/**
 * The vocabulary of technician dispatch: engineers (skills, regions, quiet hours) and dispatches, one
 * per alarm episode at most, moving assigned → accepted → en_route → on_site → resolved, or cancelled.
 */

/** A dispatch's statuses in their order; `cancelled` may follow any but `resolved`. */
export const DISPATCH_STATUSES = [
  'assigned',
  'accepted',
  'en_route',
  'on_site',
  'resolved',
  'cancelled',
] as const;
export type DispatchStatus = (typeof DISPATCH_STATUSES)[number];

export interface Engineer {
  readonly id: string;
  readonly name: string;
  readonly email: string;
  readonly skills: readonly string[];
  /** Regions this engineer covers (`*`: everywhere). */
  readonly regions: readonly string[];
  /** IANA zone of the quiet hours. */
  readonly zone: string;
  /** Local hours when the engineer is not dispatched (`from` inclusive, `to` exclusive, may span midnight). */
  readonly quietHours: { readonly from: string; readonly to: string } | null;
  readonly active: boolean;
}

/** What the outbox asks for when an alarm needs a technician. */
export interface DispatchRequest {
  /** Derived from the episode (`dispatchIdOf`): one dispatch per episode. */
  readonly dispatchId: string;
  readonly episodeId: string;
  readonly productId: string | null;
  readonly customerId: string | null;
  readonly siteId: string | null;
  readonly deviceId: string | null;
  readonly skills: readonly string[];
  readonly priority: 'low' | 'normal' | 'high';
  /** Why: not remote-fixable, or the remote fix that did not work. */
  readonly reason: string;
  /** When it was asked for (epoch ms): quiet hours are judged at this time. */
  readonly at: number;
}

export interface Dispatch {
  readonly dispatchId: string;
  readonly episodeId: string;
  readonly productId: string | null;
  readonly customerId: string | null;
  readonly siteId: string | null;
  readonly deviceId: string | null;
  readonly skills: readonly string[];
  readonly priority: 'low' | 'normal' | 'high';
  readonly reason: string;
  /** Null while no engineer matched (skills, region, quiet hours): `shardflow dispatch update --engineer` assigns one. */
  readonly engineerId: string | null;
  readonly status: DispatchStatus;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** One entry of a dispatch's history. */
export interface DispatchChange {
  readonly dispatchId: string;
  readonly seq: number;
  readonly status: DispatchStatus;
  readonly engineerId: string | null;
  readonly at: number;
  readonly by: string;
  readonly note: string | null;
}
