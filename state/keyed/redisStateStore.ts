/**
 * The production keyed state store: Redis, one script call per claim, write, reset and read of
 * published state (`keyedScripts.ts`, which also describes the keys). A claim sets the owner and reads the shard's
 * snapshot in one atomic step; a shard with more entries than a reply should carry at once is read by
 * `HSCAN` after that step, which is safe because the previous owner's writes are refused from the
 * moment the owner changed. A write is one command, whatever its size: Redis runs a command only once
 * it has received all of it, so a worker that dies while sending leaves the previous snapshot whole.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import {
  type Position,
  type ShardWatermark,
  type SnapshotReceipt,
  type SnapshotWrite,
  type StateEntry,
  StateFencedError,
  StateLostError,
  type StateStore,
  type StoredSnapshot,
} from '../../topology/index.ts';
import { openRedisClient, type RedisConnection, type RedisStoreDeps } from '../redisConnection.ts';
import {
  KEYED_CHECK,
  KEYED_JOIN,
  KEYED_OPEN,
  KEYED_READ_PUBLISHED,
  KEYED_RESET,
  KEYED_WATERMARKS,
  KEYED_WRITE,
} from './keyedScripts.ts';
import { publishedBlobs, writeBlobs } from './writeArgs.ts';

/** A Redis keyed state store's connection and the namespace its keys live in (`sf:{NAMESPACE}:ks:…`). */
export interface RedisStateStoreConfig extends RedisConnection {
  readonly namespace: string;
}

/** The Redis store, with its count of requests sent (the benchmark reports round trips). */
export interface RedisStateStore extends StateStore {
  readonly roundTrips: number;
}

/** A shard with more entries than this is read by `HSCAN` after the claim, not in the claim's reply. */
export const INLINE_ENTRIES = 5_000;
/** Entries asked for per `HSCAN` (a hint Redis follows closely for a large hash). */
const SCAN_COUNT = 5_000;
/** Scans of a read tried before giving up while the shard's owner keeps writing. */
const READ_ATTEMPTS = 5;

interface KeyedCommands {
  keyedJoin(epochKey: string, epoch: string): Promise<string | null>;
  keyedOpenBuffer(epochKey: string, meta: string, entries: string, ...args: string[]): Promise<Buffer[]>;
  keyedCheck(epochKey: string, meta: string, epoch: string): Promise<string[]>;
  keyedWrite(...keysAndArgs: (string | Buffer)[]): Promise<string>;
  keyedReset(...keysAndArgs: string[]): Promise<string>;
  /** KEYS' count first: the groups are keys. */
  keyedReadPublishedBuffer(keyCount: number, ...keysAndArgs: string[]): Promise<(Buffer | Buffer[])[]>;
  keyedWatermarks(epochKey: string, watermarks: string, epoch: string): Promise<string[]>;
}

function positionOf(seq: string, sub: string): Position | undefined {
  return seq === '' ? undefined : { sequenceNumber: seq, subSequenceNumber: Number(sub) };
}

/** A Redis keyed state store. */
export function redisStateStore(config: RedisStateStoreConfig, deps: RedisStoreDeps = {}): RedisStateStore {
  const prefix = `sf:{${config.namespace}}:ks:`;
  const epochKey = `${prefix}epoch`;
  const keys = (shardId: string) => [epochKey, `${prefix}m:${shardId}`, `${prefix}e:${shardId}`] as const;
  const wmNodesKey = `${prefix}wmnodes`;
  let client: (Redis & KeyedCommands) | undefined;
  let epoch = '';
  let roundTrips = 0;
  const lost = () =>
    new StateLostError(
      `keyed state in ${config.namespace} was lost (Redis restarted empty or was flushed): replay from a savepoint`,
    );
  const redis = () => {
    if (client === undefined) throw new Error('redis keyed state store is not open');
    return client;
  };

  /** Every entry of a shard's hash, in chunks (a rehash may repeat an entry: the map keeps one). */
  async function scanEntries(entriesKey: string): Promise<StateEntry[]> {
    const found = new Map<string, Buffer>();
    let cursor = '0';
    do {
      roundTrips++;
      const [next, flat] = await redis().hscanBuffer(entriesKey, cursor, 'COUNT', SCAN_COUNT);
      for (let i = 0; i < flat.length; i += 2) found.set(flat[i]!.toString('utf8'), flat[i + 1]!);
      cursor = next.toString();
    } while (cursor !== '0');
    return Array.from(found, ([key, value]) => ({ key, value }));
  }

  /**
   * Opens a shard's snapshot for `owner` (claiming it) or for nobody (`''`: reading it). A large
   * shard is scanned, then checked: a claim fails with `StateFencedError` when another owner claimed
   * (or a reset ended the claim) during the scan; a read scans again when a write came in between.
   */
  async function openSnapshot(shardId: string, owner: string): Promise<StoredSnapshot | undefined> {
    const [, meta, entriesKey] = keys(shardId);
    for (let attempt = 1; ; attempt++) {
      roundTrips++;
      const reply = await redis().keyedOpenBuffer(...keys(shardId), epoch, owner, String(INLINE_ENTRIES));
      const status = reply[0]!.toString();
      if (status === 'lost') throw lost();
      if (status === 'none') return undefined;
      const [version, seq, sub] = [reply[1]!.toString(), reply[2]!.toString(), reply[3]!.toString()];
      const position = positionOf(seq, sub);
      if (status === 'all') {
        const entries: StateEntry[] = [];
        for (let i = 4; i < reply.length; i += 2)
          entries.push({ key: reply[i]!.toString('utf8'), value: reply[i + 1]! });
        return { position, entries };
      }
      const entries = await scanEntries(entriesKey);
      roundTrips++;
      const [checked, ownerNow, versionNow] = await redis().keyedCheck(epochKey, meta, epoch);
      if (checked === 'lost') throw lost();
      if (owner !== '' && ownerNow !== owner)
        throw new StateFencedError(`shard ${shardId} was claimed by another worker while it was read`);
      if (versionNow === version) return { position, entries };
      if (owner !== '' || attempt === READ_ATTEMPTS)
        throw new Error(`keyed state of shard ${shardId} kept changing while it was read`);
    }
  }

  return {
    kind: 'redis',
    get roundTrips() {
      return roundTrips;
    },
    open: async () => {
      const c = (await openRedisClient(config, deps, `keyed state ${config.namespace}`, {
        maxRetriesPerRequest: 3,
      })) as Redis & KeyedCommands;
      c.defineCommand('keyedJoin', { numberOfKeys: 1, lua: KEYED_JOIN });
      c.defineCommand('keyedOpen', { numberOfKeys: 3, lua: KEYED_OPEN });
      c.defineCommand('keyedCheck', { numberOfKeys: 2, lua: KEYED_CHECK });
      c.defineCommand('keyedWrite', { numberOfKeys: 4, lua: KEYED_WRITE });
      c.defineCommand('keyedReset', { numberOfKeys: 4, lua: KEYED_RESET });
      c.defineCommand('keyedReadPublished', { lua: KEYED_READ_PUBLISHED });
      c.defineCommand('keyedWatermarks', { numberOfKeys: 2, lua: KEYED_WATERMARKS });
      client = c;
      roundTrips++;
      const joined = await c.keyedJoin(epochKey, randomUUID());
      if (joined === null) throw new StateLostError('keyed state epoch vanished while joining');
      epoch = joined;
    },
    claim: async function claimRedis(shardId, owner) {
      if (owner === '') throw new Error('a claim needs an owner token');
      return openSnapshot(shardId, owner);
    },
    read: async function readRedis(shardId) {
      return openSnapshot(shardId, '');
    },
    write: async function writeRedis(snapshot: SnapshotWrite): Promise<SnapshotReceipt> {
      const blobs = writeBlobs(snapshot.upserts, snapshot.deletes);
      const published = publishedBlobs(snapshot.published);
      const { sequenceNumber, subSequenceNumber } = snapshot.position;
      roundTrips++;
      const status = await redis().keyedWrite(
        ...keys(snapshot.shardId),
        wmNodesKey,
        epoch,
        snapshot.owner,
        sequenceNumber,
        String(subSequenceNumber),
        snapshot.shardId,
        prefix,
        ...[blobs.upserts, blobs.deletes, published.upserts, published.deletes, published.watermarks].map(
          (list) => String(list.length),
        ),
        ...blobs.upserts,
        ...blobs.deletes,
        ...published.upserts,
        ...published.deletes,
        ...published.watermarks,
      );
      if (status === 'lost') throw lost();
      if (status === 'fenced')
        throw new StateFencedError(`shard ${snapshot.shardId} is claimed by another worker (or was reset)`);
      if (status === 'malformed') throw new Error(`keyed state write of ${snapshot.shardId} was malformed`);
      return { bytes: blobs.bytes + published.bytes, roundTrips: 1 };
    },
    reset: async function resetRedis(shardId, position) {
      roundTrips++;
      const status = await redis().keyedReset(
        ...keys(shardId),
        wmNodesKey,
        epoch,
        position?.sequenceNumber ?? '',
        position === undefined ? '' : String(position.subSequenceNumber),
        shardId,
        prefix,
      );
      if (status === 'lost') throw lost();
    },
    readPublished: async function readPublishedRedis(groups) {
      const read = new Map<string, Map<string, Uint8Array>>();
      roundTrips++;
      const reply = await redis().keyedReadPublishedBuffer(
        1 + groups.length,
        epochKey,
        ...groups.map((group) => `${prefix}pub:${group}`),
        epoch,
      );
      if (reply[0]!.toString() === 'lost') throw lost();
      groups.forEach((group, i) => {
        const flat = reply[1 + i] as Buffer[];
        if (flat.length === 0) return;
        const byShard = new Map<string, Uint8Array>();
        for (let j = 0; j < flat.length; j += 2) byShard.set(flat[j]!.toString('utf8'), flat[j + 1]!);
        read.set(group, byShard);
      });
      return read;
    },
    publishedWatermarks: async function publishedWatermarksRedis(node) {
      roundTrips++;
      const [status, ...flat] = await redis().keyedWatermarks(epochKey, `${prefix}wm:${node}`, epoch);
      if (status === 'lost') throw lost();
      const watermarks: ShardWatermark[] = [];
      for (let i = 0; i < flat.length; i += 2) {
        const [watermark, activeAt] = flat[i + 1]!.split(' ');
        watermarks.push({ shardId: flat[i]!, watermark: Number(watermark), activeAt: Number(activeAt) });
      }
      return watermarks;
    },
    close: async () => {
      client?.disconnect();
      client = undefined;
    },
  };
}
