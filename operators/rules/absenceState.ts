/**
 * What the rule operator keeps per (absence rule, target) in keyed state: when the target was last
 * heard, the processing-time timer pending for it, and the episode state of `episodes/`. Positional
 * on the wire, as `ruleState.ts` is; the field is the alarm key of the rule and target.
 */
import { type AlarmTarget, alarmKey, type StateCodec } from '../../topology/index.ts';
import { EMPTY_EPISODE_STATE, type EpisodeState, episodeStateCodec } from './episodes/index.ts';

/** The state of one absence rule on one device (or one hub). */
export interface AbsenceState {
  /** The product, site and customer of the latest reading: a timer raises with them. */
  readonly productId: string;
  readonly siteId: string | null;
  readonly customerId: string | null;
  /** The hub the device's latest reading came through, when the hub keys its readings; else null. */
  readonly hubId: string | null;
  /** When the target was last heard: the latest `ingest_timestamp` of its readings (epoch ms). */
  readonly heardAt: number;
  /** The processing-time timer pending for this state (epoch ms), or null when none is. */
  readonly timerAt: number | null;
  readonly episode: EpisodeState;
}

/** The state of a target first heard at `heardAt`. */
export function heardState(
  subject: Pick<AbsenceState, 'productId' | 'siteId' | 'customerId' | 'hubId'>,
  heardAt: number,
): AbsenceState {
  return { ...subject, heardAt, timerAt: null, episode: EMPTY_EPISODE_STATE };
}

/** The map-state field of an absence rule on a target: the alarm key (`topology/alarms.ts`). */
export function absenceField(ruleId: string, target: AlarmTarget): string {
  return alarmKey(ruleId, target);
}

/** The rule and target of a field made by {@link absenceField}. */
export function parseAbsenceField(field: string): { ruleId: string; target: AlarmTarget } {
  const [ruleId, kind, ...id] = field.split('\u0001');
  return { ruleId: ruleId!, target: { kind: kind as AlarmTarget['kind'], id: id.join('\u0001') } };
}

const VERSION = 1;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

type AbsenceStateTuple = [
  number, // layout version
  string, // productId
  string | null, // siteId
  string | null, // customerId
  string | null, // hubId
  number, // heardAt
  number | null, // timerAt
  unknown, // the episode state, as episodeStateCodec writes it
];

/** The absence state as a positional JSON array; the episode part in the episodes codec's layout. */
export const absenceStateCodec: StateCodec<AbsenceState> = {
  encode(s) {
    const episode = decoder.decode(episodeStateCodec.encode(s.episode));
    const head = JSON.stringify([
      VERSION,
      s.productId,
      s.siteId,
      s.customerId,
      s.hubId,
      s.heardAt,
      s.timerAt,
    ]);
    return encoder.encode(`${head.slice(0, -1)},${episode}]`);
  },
  decode(bytes) {
    const t = JSON.parse(decoder.decode(bytes)) as AbsenceStateTuple;
    if (t[0] !== VERSION) throw new Error(`absence state: unknown layout version ${t[0]}`);
    return {
      productId: t[1],
      siteId: t[2],
      customerId: t[3],
      hubId: t[4],
      heardAt: t[5],
      timerAt: t[6],
      episode: episodeStateCodec.decode(encoder.encode(JSON.stringify(t[7]))),
    };
  },
};
