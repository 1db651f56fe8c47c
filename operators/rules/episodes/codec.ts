/**
 * The keyed-state codec of an {@link EpisodeState}: a JSON array by position, not an object, so the
 * field names are not stored once per (rule, target). An open episode costs about 250 bytes, a
 * (rule, target) without one about 20. Version 1 is the first element; a later layout adds a version.
 */
import {
  type AlarmTargetKind,
  type Episode,
  SEVERITIES,
  type Severity,
  type StateCodec,
} from '../../../topology/index.ts';
import type { EpisodeState } from './machine.ts';

const VERSION = 1;
const TARGET_KINDS: readonly AlarmTargetKind[] = ['device', 'hub', 'site', 'customer'];
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { ignoreBOM: true });

type EpisodeTuple = [
  string, // id
  string, // ruleId
  number, // rulesetVersion
  number, // target kind
  string, // target id
  string | null, // productId
  string | null, // customerId
  string | null, // siteId
  string | null, // deviceId
  number, // severity rank
  0 | 1, // status: 1 active
  0 | 1, // acknowledged
  0 | 1, // latched
  string | null, // assignee
  number | null, // shelvedUntil
  number, // openedAt
  number | null, // clearedAt
  number, // lastEventSeq
  0 | 1, // flapping
  number | null, // value
  string, // message
  number, // updatedAt
];

const bit = (b: boolean): 0 | 1 => (b ? 1 : 0);

function episodeTuple(e: Episode): EpisodeTuple {
  return [
    e.id,
    e.ruleId,
    e.rulesetVersion,
    TARGET_KINDS.indexOf(e.target.kind),
    e.target.id,
    e.productId,
    e.customerId,
    e.siteId,
    e.deviceId,
    SEVERITIES.indexOf(e.severity),
    bit(e.status === 'active'),
    bit(e.acknowledged),
    bit(e.latched),
    e.assignee,
    e.shelvedUntil,
    e.openedAt,
    e.clearedAt,
    e.lastEventSeq,
    bit(e.flapping),
    e.value,
    e.message,
    e.updatedAt,
  ];
}

function episodeOf(t: EpisodeTuple): Episode {
  return {
    id: t[0],
    ruleId: t[1],
    rulesetVersion: t[2],
    target: { kind: TARGET_KINDS[t[3]]!, id: t[4] },
    productId: t[5],
    customerId: t[6],
    siteId: t[7],
    deviceId: t[8],
    severity: SEVERITIES[t[9]] as Severity,
    status: t[10] === 1 ? 'active' : 'cleared',
    acknowledged: t[11] === 1,
    latched: t[12] === 1,
    assignee: t[13],
    shelvedUntil: t[14],
    openedAt: t[15],
    clearedAt: t[16],
    // the state holds open episodes only
    closedAt: null,
    lastEventSeq: t[17],
    flapping: t[18] === 1,
    value: t[19],
    message: t[20],
    updatedAt: t[21],
  };
}

/** The episode state's layout as a JSON value (what {@link episodeStateCodec} writes), for codecs that embed it. */
export type EpisodeStateTuple = [
  number,
  EpisodeTuple | 0,
  number | null,
  number[],
  0 | 1,
  number | null,
  number | null,
  string[]?, // applied action ids, when there are any (states written before them have none)
];

/** The episode state as its positional tuple. */
export function episodeStateTuple(s: EpisodeState): EpisodeStateTuple {
  const tuple: EpisodeStateTuple = [
    VERSION,
    s.episode === null ? 0 : episodeTuple(s.episode),
    s.activeSince,
    s.changes as number[],
    bit(s.flapping),
    s.shelvedUntil,
    s.lastRaisedAt,
  ];
  if (s.appliedActions !== undefined && s.appliedActions.length > 0) tuple.push(s.appliedActions as string[]);
  return tuple;
}

/** The episode state of a tuple made by {@link episodeStateTuple}. */
export function episodeStateOf(t: EpisodeStateTuple): EpisodeState {
  if (t[0] !== VERSION) throw new Error(`episode state: unknown layout version ${t[0]}`);
  return {
    episode: t[1] === 0 ? null : episodeOf(t[1]),
    activeSince: t[2],
    changes: t[3],
    flapping: t[4] === 1,
    shelvedUntil: t[5],
    lastRaisedAt: t[6],
    ...(t[7] === undefined ? {} : { appliedActions: t[7] }),
  };
}

/** The episode state as bytes and back (keyed state of the rule operator). */
export const episodeStateCodec: StateCodec<EpisodeState> = {
  encode: (s) => encoder.encode(JSON.stringify(episodeStateTuple(s))),
  decode: (bytes) => episodeStateOf(JSON.parse(decoder.decode(bytes)) as EpisodeStateTuple),
};
