/**
 * Reads and writes the lease table. Every write is conditional on the `leaseCounter` the caller
 * last saw (and, where KCL checks it, on the owner): that counter is the fencing token. A write that
 * loses its condition raises {@link LeaseLostError}; the caller must stop processing the shard.
 */
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  type DynamoDBClient,
  PutItemCommand,
  ScanCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { Clock, HashKeyRange, Position } from '../../../topology/index.ts';
import { ensureTable } from '../dynamodb.ts';
import { ATTR, checkpointAttributes, fromItem, type Lease, type LeaseCheckpoint, toItem } from './lease.ts';

/** A conditional write found the lease changed: another worker holds it now, or it was reset. */
export class LeaseLostError extends Error {
  override readonly name = 'LeaseLostError';
  constructor(
    readonly leaseKey: string,
    action: string,
  ) {
    super(`lease ${leaseKey} changed under us (${action}): no longer held`);
  }
}

const counter = (n: number): AttributeValue => ({ N: String(n) });

/** The lease table of one application (one consumer of one stream). */
export class LeaseRefresher {
  constructor(
    private readonly client: DynamoDBClient,
    readonly tableName: string,
  ) {}

  /** Creates the table (on-demand capacity) if it does not exist, and waits until it is active. */
  ensureTable(clock: Clock): Promise<void> {
    return ensureTable(this.client, this.tableName, ATTR.leaseKey, clock);
  }

  /** Every lease, read consistently. */
  async listLeases(): Promise<Lease[]> {
    const leases: Lease[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.client.send(
        new ScanCommand({ TableName: this.tableName, ConsistentRead: true, ExclusiveStartKey: start }),
      );
      for (const item of page.Items ?? []) leases.push(fromItem(item));
      start = page.LastEvaluatedKey;
    } while (start !== undefined);
    return leases;
  }

  /** Creates a lease unless one exists for the shard; true when it was created. */
  async createLeaseIfNotExists(lease: Lease): Promise<boolean> {
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: toItem(lease),
          ConditionExpression: 'attribute_not_exists(#key)',
          ExpressionAttributeNames: { '#key': ATTR.leaseKey },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  private async update(
    lease: Lease,
    action: string,
    set: Record<string, AttributeValue>,
    options: { remove?: string[]; addOwnerSwitch?: boolean; checkOwner?: boolean } = {},
  ): Promise<Lease> {
    const names: Record<string, string> = { '#counter': ATTR.leaseCounter };
    const values: Record<string, AttributeValue> = {
      ':expected': counter(lease.leaseCounter),
      ':one': counter(1),
    };
    const sets = ['#counter = #counter + :one'];
    Object.entries(set).forEach(([attribute, value], i) => {
      names[`#s${i}`] = attribute;
      values[`:s${i}`] = value;
      sets.push(`#s${i} = :s${i}`);
    });
    let expression = `SET ${sets.join(', ')}`;
    if (options.addOwnerSwitch) {
      names['#switches'] = ATTR.ownerSwitches;
      expression += ' ADD #switches :one';
    }
    if (options.remove && options.remove.length > 0) {
      const removed = options.remove.map((attribute, i) => {
        names[`#r${i}`] = attribute;
        return `#r${i}`;
      });
      expression += ` REMOVE ${removed.join(', ')}`;
    }
    let condition = '#counter = :expected';
    if (options.checkOwner) {
      names['#owner'] = ATTR.leaseOwner;
      if (lease.leaseOwner === undefined) condition += ' AND attribute_not_exists(#owner)';
      else {
        values[':owner'] = { S: lease.leaseOwner };
        condition += ' AND #owner = :owner';
      }
    }
    try {
      const out = await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: { [ATTR.leaseKey]: { S: lease.leaseKey } },
          UpdateExpression: expression,
          ConditionExpression: condition,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      return fromItem(out.Attributes!);
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) throw new LeaseLostError(lease.leaseKey, action);
      throw error;
    }
  }

  /** Proves the owner is alive: bumps the counter if it is still the one last seen. */
  renewLease(lease: Lease): Promise<Lease> {
    return this.update(lease, 'renew', {}, { checkOwner: true });
  }

  /** Takes a lease (expired, unowned, or stolen) for `owner`. */
  takeLease(lease: Lease, owner: string): Promise<Lease> {
    const switching = lease.leaseOwner !== undefined && lease.leaseOwner !== owner;
    return this.update(lease, 'take', { [ATTR.leaseOwner]: { S: owner } }, { addOwnerSwitch: switching });
  }

  /** Gives a lease up so that any worker may take it at once (graceful handoff). */
  evictLease(lease: Lease): Promise<Lease> {
    return this.update(lease, 'evict', {}, { remove: [ATTR.leaseOwner], checkOwner: true });
  }

  /** Records the shard's checkpoint, fenced by the counter and the owner. */
  updateCheckpoint(
    lease: Lease,
    checkpoint: LeaseCheckpoint,
    childShardIds?: readonly string[],
  ): Promise<Lease> {
    const set: Record<string, AttributeValue> = {
      ...checkpointAttributes(checkpoint),
      [ATTR.ownerSwitches]: counter(0),
    };
    if (childShardIds && childShardIds.length > 0) set[ATTR.childShardId] = { SS: [...childShardIds] };
    return this.update(lease, 'checkpoint', set, {
      checkOwner: true,
      remove: [ATTR.pendingCheckpoint, ATTR.pendingCheckpointSub],
    });
  }

  /**
   * Moves a shard's checkpoint for a replay and frees the lease: its holder loses the next renewal,
   * stops, and whoever takes the lease next starts from the new checkpoint.
   */
  resetCheckpoint(lease: Lease, checkpoint: LeaseCheckpoint, startTimestamp?: number): Promise<Lease> {
    const set: Record<string, AttributeValue> = {
      ...checkpointAttributes(checkpoint),
      [ATTR.ownerSwitches]: counter(0),
    };
    if (startTimestamp !== undefined) set[ATTR.startTimestamp] = counter(startTimestamp);
    const remove: string[] = [ATTR.leaseOwner, ATTR.pendingCheckpoint, ATTR.pendingCheckpointSub];
    if (startTimestamp === undefined) remove.push(ATTR.startTimestamp);
    return this.update(lease, 'reset', set, { remove });
  }

  /**
   * Gives a lease written without it its shard's hash key range (KCL's `updateLeaseWithMetaInfo`
   * with `HASH_KEY_RANGE`). A shard's range never changes, so the write is not fenced: it leaves the
   * counter alone and cannot make the holder lose the lease. False when the lease is gone.
   */
  async updateHashKeyRange(leaseKey: string, range: HashKeyRange): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: { [ATTR.leaseKey]: { S: leaseKey } },
          UpdateExpression: 'SET #start = :start, #end = :end',
          ConditionExpression: 'attribute_exists(#key)',
          ExpressionAttributeNames: {
            '#key': ATTR.leaseKey,
            '#start': ATTR.startingHashKey,
            '#end': ATTR.endingHashKey,
          },
          ExpressionAttributeValues: {
            ':start': { S: range.startingHashKey },
            ':end': { S: range.endingHashKey },
          },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  /** Removes a lease (a shard that expired from the stream's retention). */
  async deleteLease(lease: Lease): Promise<void> {
    await this.client.send(
      new DeleteItemCommand({ TableName: this.tableName, Key: { [ATTR.leaseKey]: { S: lease.leaseKey } } }),
    );
  }
}

/** A checkpoint at a record position. */
export function positionCheckpoint(position: Position): LeaseCheckpoint {
  return { position };
}
