/**
 * What the rule operator keeps per (rule, device) in keyed state: the condition side's gates (on-delay,
 * off-delay, repeat) and the episode state of `episodes/`. Small and positional on the wire, as there
 * is one per rule and device; written only when one of its fields changes.
 */
import type { StateCodec } from '../../topology/index.ts';
import {
  EMPTY_EPISODE_STATE,
  type EpisodeState,
  type EpisodeStateTuple,
  episodeStateOf,
  episodeStateTuple,
} from './episodes/index.ts';

/** The state of one threshold rule on one device. */
export interface RuleState {
  /** The product, site and customer of the device's last reading: a timer judges with them. */
  readonly productId: string;
  readonly siteId: string | null;
  readonly customerId: string | null;
  /** Event time the condition began to hold while no alarm was active (on-delay running); null when not. */
  readonly pendingSince: number | null;
  /** The value of the reading that started the on-delay: the alarm's value when it completes. */
  readonly pendingValue: number | null;
  /** Event time the clear side began to hold while the alarm was active (off-delay running). */
  readonly clearSince: number | null;
  /** Whether the condition held at the device's last reading that knew it (rising edges count for repeat). */
  readonly holding: boolean;
  /** Event times of the latest rising edges within the repeat window (repeat rules only). */
  readonly hits: readonly number[];
  readonly episode: EpisodeState;
}

/** The state of a rule that never saw a reading of the device. */
export function emptyRuleState(
  productId: string,
  siteId: string | null,
  customerId: string | null,
): RuleState {
  return {
    productId,
    siteId,
    customerId,
    pendingSince: null,
    pendingValue: null,
    clearSince: null,
    holding: false,
    hits: [],
    episode: EMPTY_EPISODE_STATE,
  };
}

/**
 * The state a reading of the device is judged on: the stored one (`before`), or an empty one, with the
 * product, site and customer of the reading (a device moved between sites keeps its rule state).
 */
export function ruleStateFor(
  before: RuleState | undefined,
  productId: string,
  siteId: string | null,
  customerId: string | null,
): RuleState {
  if (before === undefined) return emptyRuleState(productId, siteId, customerId);
  if (before.productId === productId && before.siteId === siteId && before.customerId === customerId)
    return before;
  return { ...before, productId, siteId, customerId };
}

/** The map-state field of a rule on a device (a partition key may carry several devices: a hub's). */
export function ruleField(ruleId: string, deviceId: string): string {
  return `${ruleId}\u0001${deviceId}`;
}

/** The rule and device of a field made by {@link ruleField}. */
export function parseRuleField(field: string): { ruleId: string; deviceId: string } {
  const cut = field.indexOf('\u0001');
  return { ruleId: field.slice(0, cut), deviceId: field.slice(cut + 1) };
}

const VERSION = 1;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

type RuleStateTuple = [
  number, // layout version
  string, // productId
  string | null, // siteId
  string | null, // customerId
  number | null, // pendingSince
  number | null, // pendingValue
  number | null, // clearSince
  0 | 1, // holding
  number[], // hits
  EpisodeStateTuple, // the episode state, as episodeStateCodec writes it
];

/**
 * The rule state as a positional JSON array; the episode part in the episodes codec's own layout,
 * its tuple embedded (one `JSON.stringify` and one encoding per write).
 */
export const ruleStateCodec: StateCodec<RuleState> = {
  encode(s) {
    const tuple: RuleStateTuple = [
      VERSION,
      s.productId,
      s.siteId,
      s.customerId,
      s.pendingSince,
      s.pendingValue,
      s.clearSince,
      s.holding ? 1 : 0,
      s.hits as number[],
      episodeStateTuple(s.episode),
    ];
    return encoder.encode(JSON.stringify(tuple));
  },
  decode(bytes) {
    const t = JSON.parse(decoder.decode(bytes)) as RuleStateTuple;
    if (t[0] !== VERSION) throw new Error(`rule state: unknown layout version ${t[0]}`);
    return {
      productId: t[1],
      siteId: t[2],
      customerId: t[3],
      pendingSince: t[4],
      pendingValue: t[5],
      clearSince: t[6],
      holding: t[7] === 1,
      hits: t[8],
      episode: episodeStateOf(t[9]),
    };
  },
};
