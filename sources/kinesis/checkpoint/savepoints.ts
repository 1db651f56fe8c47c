/**
 * Savepoints: every shard's checkpoint of one lease table at one moment, kept under a name so that a
 * replay can restore it. They live in `<leaseTable>-savepoints` (hash key `name`), one item per
 * savepoint, each shard's checkpoint in the form KCL writes it (`checkpoint`,
 * `checkpointSubSequenceNumber`), so they read like the lease table itself.
 */
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  ResourceNotFoundException,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import type { Clock } from '../../../topology/index.ts';
import { ensureTable } from '../dynamodb.ts';
import {
  ATTR,
  checkpointAttributes,
  type Lease,
  type LeaseCheckpoint,
  SENTINELS,
  type Sentinel,
} from '../leases/lease.ts';

/** One shard's checkpoint as a savepoint holds it. */
export interface SavedCheckpoint {
  readonly checkpoint: LeaseCheckpoint;
  /** The start time of an `AT_TIMESTAMP` checkpoint (epoch ms). */
  readonly startTimestamp?: number;
}

/** A named set of checkpoints, one per shard. */
export interface Savepoint {
  readonly name: string;
  readonly stream: string;
  /** When it was taken (epoch ms). */
  readonly createdAt: number;
  /** Shard id → checkpoint. */
  readonly shards: ReadonlyMap<string, SavedCheckpoint>;
}

/** `create` found a savepoint of that name already: savepoints are never overwritten. */
export class SavepointExistsError extends Error {
  override readonly name = 'SavepointExistsError';
  constructor(readonly savepoint: string) {
    super(`a savepoint named "${savepoint}" exists already; choose another name`);
  }
}

/** The savepoint table that belongs to a lease table. */
export function savepointTableName(leaseTable: string): string {
  return `${leaseTable}-savepoints`;
}

function toItem(savepoint: Savepoint): Record<string, AttributeValue> {
  const shards: Record<string, AttributeValue> = {};
  for (const [shardId, saved] of savepoint.shards) {
    const shard = checkpointAttributes(saved.checkpoint);
    if (saved.startTimestamp !== undefined) shard[ATTR.startTimestamp] = { N: String(saved.startTimestamp) };
    shards[shardId] = { M: shard };
  }
  return {
    name: { S: savepoint.name },
    stream: { S: savepoint.stream },
    createdAt: { N: String(savepoint.createdAt) },
    shards: { M: shards },
  };
}

function savedFromAttributes(shard: Record<string, AttributeValue>): SavedCheckpoint {
  const value = shard[ATTR.checkpoint]?.S ?? 'TRIM_HORIZON';
  const checkpoint: LeaseCheckpoint = (SENTINELS as readonly string[]).includes(value)
    ? { sentinel: value as Sentinel }
    : { position: { sequenceNumber: value, subSequenceNumber: Number(shard[ATTR.checkpointSub]?.N ?? 0) } };
  const startTimestamp = shard[ATTR.startTimestamp]?.N;
  return startTimestamp === undefined
    ? { checkpoint }
    : { checkpoint, startTimestamp: Number(startTimestamp) };
}

function fromItem(item: Record<string, AttributeValue>): Savepoint {
  const shards = new Map<string, SavedCheckpoint>();
  for (const [shardId, value] of Object.entries(item.shards?.M ?? {})) {
    shards.set(shardId, savedFromAttributes(value.M ?? {}));
  }
  return {
    name: item.name!.S!,
    stream: item.stream?.S ?? '',
    createdAt: Number(item.createdAt?.N ?? 0),
    shards,
  };
}

/** The savepoints of one lease table. */
export class SavepointStore {
  /** The DynamoDB table the savepoints are kept in. */
  readonly tableName: string;

  constructor(
    private readonly client: DynamoDBClient,
    leaseTable: string,
    private readonly clock: Clock,
  ) {
    this.tableName = savepointTableName(leaseTable);
  }

  /** Creates the table (on-demand capacity) if it does not exist, and waits until it is active. */
  ensureTable(): Promise<void> {
    return ensureTable(this.client, this.tableName, 'name', this.clock);
  }

  /**
   * Records every lease's checkpoint under `name` (the table is created when missing); refuses to
   * overwrite a savepoint of the same name with {@link SavepointExistsError}.
   */
  async create(name: string, stream: string, leases: readonly Lease[]): Promise<Savepoint> {
    await this.ensureTable();
    const shards = new Map<string, SavedCheckpoint>();
    for (const lease of [...leases].sort((a, b) => a.leaseKey.localeCompare(b.leaseKey))) {
      shards.set(
        lease.leaseKey,
        lease.startTimestamp === undefined
          ? { checkpoint: lease.checkpoint }
          : { checkpoint: lease.checkpoint, startTimestamp: lease.startTimestamp },
      );
    }
    const savepoint: Savepoint = { name, stream, createdAt: this.clock.now(), shards };
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: toItem(savepoint),
          ConditionExpression: 'attribute_not_exists(#name)',
          ExpressionAttributeNames: { '#name': 'name' },
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) throw new SavepointExistsError(name);
      throw error;
    }
    return savepoint;
  }

  /** Every savepoint, oldest first; none when the table does not exist yet. */
  async list(): Promise<Savepoint[]> {
    const savepoints: Savepoint[] = [];
    let start: Record<string, AttributeValue> | undefined;
    try {
      do {
        const page = await this.client.send(
          new ScanCommand({ TableName: this.tableName, ConsistentRead: true, ExclusiveStartKey: start }),
        );
        for (const item of page.Items ?? []) savepoints.push(fromItem(item));
        start = page.LastEvaluatedKey;
      } while (start !== undefined);
    } catch (error) {
      if (error instanceof ResourceNotFoundException) return [];
      throw error;
    }
    return savepoints.sort((a, b) => a.createdAt - b.createdAt || a.name.localeCompare(b.name));
  }

  /** The savepoint named `name`, or `undefined`. */
  async get(name: string): Promise<Savepoint | undefined> {
    try {
      const { Item } = await this.client.send(
        new GetItemCommand({ TableName: this.tableName, Key: { name: { S: name } }, ConsistentRead: true }),
      );
      return Item === undefined ? undefined : fromItem(Item);
    } catch (error) {
      if (error instanceof ResourceNotFoundException) return undefined;
      throw error;
    }
  }
}
