/**
 * Exactly-once markers in snapshot summaries: each append records `shardflow.writer` and
 * `shardflow.checkpoints` (shard → committed position, cumulative for that writer). A starting writer
 * takes, per shard, the highest position any writer's newest snapshot holds, so a shard that moved
 * between workers resumes where its last committer stopped. Every append re-checks, on each swap
 * attempt, that its records of each shard start beyond that position, so two writers that both held a
 * shard (a lease lost mid-commit) never commit the same records.
 */
import { comparePositions, type Position } from '../../../topology/index.ts';
import type { SnapshotJson, TableMetadata } from './types.ts';

/**
 * Thrown by an append whose records of some shard do not all lie beyond the position the table already
 * holds for that shard (another writer committed them since): `committed` holds those shards' positions.
 */
export class AlreadyCommittedError extends Error {
  constructor(readonly committed: ReadonlyMap<string, Position>) {
    const shards = [...committed].map(
      ([s, p]) => `${s} (committed to ${p.sequenceNumber}:${p.subSequenceNumber})`,
    );
    super(`records already committed by another writer for ${shards.join(', ')}`);
    this.name = 'AlreadyCommittedError';
  }
}

/** Summary key of the writer id. */
export const WRITER_KEY = 'shardflow.writer';
/** Summary key of the JSON object shard → `sequenceNumber:subSequenceNumber`. */
const CHECKPOINTS_KEY = 'shardflow.checkpoints';

/** The summary entries that mark a commit of `positions` by `writerId`. */
export function checkpointSummary(
  writerId: string,
  positions: ReadonlyMap<string, Position>,
): Record<string, string> {
  const obj: Record<string, string> = {};
  for (const [shard, p] of [...positions].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    obj[shard] = `${p.sequenceNumber}:${p.subSequenceNumber}`;
  }
  return { [WRITER_KEY]: writerId, [CHECKPOINTS_KEY]: JSON.stringify(obj) };
}

/** The positions a snapshot's summary records, or `undefined` if it carries no marker. */
function snapshotCheckpoints(snapshot: SnapshotJson): Map<string, Position> | undefined {
  const text = snapshot.summary[CHECKPOINTS_KEY];
  if (text === undefined) return undefined;
  const out = new Map<string, Position>();
  for (const [shard, value] of Object.entries(JSON.parse(text) as Record<string, string>)) {
    const [sequenceNumber, sub] = value.split(':');
    out.set(shard, { sequenceNumber: sequenceNumber!, subSequenceNumber: Number(sub ?? 0) });
  }
  return out;
}

/** Each writer's newest snapshot carrying a marker. */
function newestMarkers(meta: TableMetadata): Map<string, SnapshotJson> {
  const newest = new Map<string, SnapshotJson>();
  for (const s of meta.snapshots) {
    const writer = s.summary[WRITER_KEY];
    if (writer === undefined || s.summary[CHECKPOINTS_KEY] === undefined) continue;
    const seen = newest.get(writer);
    if (!seen || s['sequence-number'] > seen['sequence-number']) newest.set(writer, s);
  }
  return newest;
}

/** Per shard, the highest committed position over all writers, and the snapshots that hold them. */
export function committedPositions(meta: TableMetadata): {
  positions: Map<string, Position>;
  holders: Set<bigint>;
} {
  const positions = new Map<string, Position>();
  const holder = new Map<string, bigint>();
  for (const s of newestMarkers(meta).values()) {
    for (const [shard, p] of snapshotCheckpoints(s) ?? []) {
      const seen = positions.get(shard);
      if (!seen || comparePositions(seen, p) < 0) {
        positions.set(shard, p);
        holder.set(shard, s['snapshot-id']);
      }
    }
  }
  return { positions, holders: new Set(holder.values()) };
}

/**
 * Checks, against the table as it is now, that each shard's records in an append start beyond the
 * shard's committed position (`firsts`: shard → position of its first record in the append). Throws
 * {@link AlreadyCommittedError} naming every shard that fails.
 */
export function checkStartsBeyond(meta: TableMetadata, firsts: ReadonlyMap<string, Position>): void {
  const { positions } = committedPositions(meta);
  const overlapping = new Map<string, Position>();
  for (const [shard, first] of firsts) {
    const done = positions.get(shard);
    if (done && comparePositions(first, done) <= 0) overlapping.set(shard, done);
  }
  if (overlapping.size > 0) throw new AlreadyCommittedError(overlapping);
}
