/**
 * The lease table against dynalite: KCL's attribute names, and fencing by `leaseCounter` on every
 * write, so a worker that lost a lease can neither renew it nor checkpoint; and the coordinator's
 * local view, which gives up a lease it could not renew within the failover time.
 */
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Lease } from '../../sources/kinesis/leases/lease.ts';
import { LeaseCoordinator } from '../../sources/kinesis/leases/leaseCoordinator.ts';
import { LeaseLostError, LeaseRefresher } from '../../sources/kinesis/leases/leaseRefresher.ts';
import { ManualClock, silentLogger, systemClock } from '../../topology/index.ts';
import { testDynamoClient, uniqueTable } from '../support/dynamodb.ts';

const fresh = (leaseKey: string, parents: string[] = []): Lease => ({
  leaseKey,
  leaseOwner: undefined,
  leaseCounter: 0,
  checkpoint: { sentinel: 'TRIM_HORIZON' },
  pendingCheckpoint: undefined,
  ownerSwitchesSinceCheckpoint: 0,
  parentShardIds: parents,
  childShardIds: [],
});

describe('lease refresher (dynalite)', () => {
  const client = testDynamoClient();
  const table = uniqueTable('leases');
  const refresher = new LeaseRefresher(client, table);

  beforeAll(() => refresher.ensureTable(systemClock));
  afterAll(() => client.destroy());

  it('creates a lease once, with KCL attribute names', async () => {
    expect(
      await refresher.createLeaseIfNotExists(fresh('shardId-000000000002', ['shardId-000000000000'])),
    ).toBe(true);
    expect(await refresher.createLeaseIfNotExists(fresh('shardId-000000000002'))).toBe(false);
    const { Item } = await client.send(
      new GetItemCommand({
        TableName: table,
        Key: { leaseKey: { S: 'shardId-000000000002' } },
        ConsistentRead: true,
      }),
    );
    expect(Item).toEqual({
      leaseKey: { S: 'shardId-000000000002' },
      leaseCounter: { N: '0' },
      ownerSwitchesSinceCheckpoint: { N: '0' },
      checkpoint: { S: 'TRIM_HORIZON' },
      checkpointSubSequenceNumber: { N: '0' },
      parentShardId: { SS: ['shardId-000000000000'] },
    });
  });

  it("keeps a shard's hash key range in KCL's startingHashKey and endingHashKey", async () => {
    const hashKeyRange = {
      startingHashKey: '170141183460469231731687303715884105728',
      endingHashKey: '340282366920938463463374607431768211455',
    };
    await refresher.createLeaseIfNotExists({ ...fresh('s-range', ['s-0']), hashKeyRange });
    const { Item } = await client.send(
      new GetItemCommand({ TableName: table, Key: { leaseKey: { S: 's-range' } }, ConsistentRead: true }),
    );
    expect(Item).toMatchObject({
      startingHashKey: { S: hashKeyRange.startingHashKey },
      endingHashKey: { S: hashKeyRange.endingHashKey },
    });
    const [read] = (await refresher.listLeases()).filter((l) => l.leaseKey === 's-range');
    expect(read!.hashKeyRange).toEqual(hashKeyRange);
    // every later write keeps it
    const taken = await refresher.takeLease(read!, 'worker-a');
    expect(taken.hashKeyRange).toEqual(hashKeyRange);
  });

  it('fills in the range of a lease written without it, without fencing out its holder', async () => {
    await refresher.createLeaseIfNotExists(fresh('s-legacy'));
    const [legacy] = (await refresher.listLeases()).filter((l) => l.leaseKey === 's-legacy');
    expect(legacy!.hashKeyRange).toBeUndefined();
    const held = await refresher.takeLease(legacy!, 'worker-a');
    const hashKeyRange = { startingHashKey: '0', endingHashKey: '340282366920938463463374607431768211455' };
    expect(await refresher.updateHashKeyRange('s-legacy', hashKeyRange)).toBe(true);
    // the counter did not move: the holder's next renewal still succeeds and reads the range back
    const renewed = await refresher.renewLease(held);
    expect(renewed).toMatchObject({ leaseCounter: held.leaseCounter + 1, hashKeyRange });
    expect(await refresher.updateHashKeyRange('s-missing', hashKeyRange)).toBe(false);
    expect((await refresher.listLeases()).some((l) => l.leaseKey === 's-missing')).toBe(false);
  });

  it('fences every write by the counter: a worker that lost the lease cannot renew or checkpoint', async () => {
    await refresher.createLeaseIfNotExists(fresh('s-1'));
    const [unowned] = (await refresher.listLeases()).filter((l) => l.leaseKey === 's-1');
    const a = await refresher.takeLease(unowned!, 'worker-a');
    expect(a).toMatchObject({ leaseOwner: 'worker-a', leaseCounter: 1, ownerSwitchesSinceCheckpoint: 0 });
    const renewed = await refresher.renewLease(a);
    expect(renewed.leaseCounter).toBe(2);

    // worker-b steals from what it saw; worker-a's view is now stale
    const stolen = await refresher.takeLease(renewed, 'worker-b');
    expect(stolen).toMatchObject({
      leaseOwner: 'worker-b',
      leaseCounter: 3,
      ownerSwitchesSinceCheckpoint: 1,
    });
    await expect(refresher.renewLease(renewed)).rejects.toBeInstanceOf(LeaseLostError);
    const position = {
      sequenceNumber: '49590338271490256608559692538361571095921575989136588898',
      subSequenceNumber: 0,
    };
    await expect(refresher.updateCheckpoint(renewed, { position })).rejects.toBeInstanceOf(LeaseLostError);

    const checkpointed = await refresher.updateCheckpoint(stolen, { position });
    expect(checkpointed).toMatchObject({
      checkpoint: { position },
      ownerSwitchesSinceCheckpoint: 0,
      leaseCounter: 4,
    });
  });

  it('evicts a lease so anyone can take it, and resets a checkpoint for a replay', async () => {
    await refresher.createLeaseIfNotExists(fresh('s-2'));
    const [lease] = (await refresher.listLeases()).filter((l) => l.leaseKey === 's-2');
    const held = await refresher.takeLease(lease!, 'worker-a');
    const evicted = await refresher.evictLease(held);
    expect(evicted.leaseOwner).toBeUndefined();
    const retaken = await refresher.takeLease(evicted, 'worker-c');
    const reset = await refresher.resetCheckpoint(retaken, { sentinel: 'AT_TIMESTAMP' }, 1_700_000_000_000);
    expect(reset).toMatchObject({
      leaseOwner: undefined,
      checkpoint: { sentinel: 'AT_TIMESTAMP' },
      startTimestamp: 1_700_000_000_000,
    });
    await expect(refresher.renewLease(retaken)).rejects.toBeInstanceOf(LeaseLostError);
  });
});

describe('lease coordinator (dynalite, manual clock)', () => {
  const client = testDynamoClient();
  const table = uniqueTable('coordinator');
  const refresher = new LeaseRefresher(client, table);
  beforeAll(async () => {
    await refresher.ensureTable(systemClock);
    for (const key of ['s-a', 's-b']) await refresher.createLeaseIfNotExists(fresh(key));
  });
  afterAll(() => client.destroy());

  it('treats a lease not renewed within the failover time as lost, before any write fails', async () => {
    const clock = new ManualClock(1_000_000);
    const lost: string[] = [];
    const coordinator = new LeaseCoordinator(
      refresher,
      'worker-a',
      { failoverTimeMs: 10_000, renewIntervalMs: 3_000, takeIntervalMs: 1_000 },
      clock,
      silentLogger,
      { acquired: () => {}, lost: (key) => lost.push(key) },
    );
    const taken = await coordinator.takeOnce();
    expect(taken.map((l) => l.leaseKey).sort()).toEqual(['s-a', 's-b']);
    expect(coordinator.holdsFresh('s-a')).toBe(true);

    // a pause longer than the failover time: nothing was renewed, nothing has failed yet
    await clock.advance(10_001);
    expect(coordinator.holdsFresh('s-a')).toBe(false);
    expect(lost).toEqual(['s-a']);
    expect(coordinator.lease('s-a')).toBeUndefined();
    await expect(coordinator.checkpoint('s-a', { sentinel: 'SHARD_END' })).rejects.toBeInstanceOf(
      LeaseLostError,
    );
    expect(coordinator.leaseCount).toBe(1);
  });

  it('warns of a lease write that took over a third of the failover time, and counts freshness from when a write was sent', async () => {
    const clock = new ManualClock(2_000_000);
    const warnings: Array<Record<string, unknown>> = [];
    const log = { ...silentLogger, warn: (fields: Record<string, unknown>) => void warnings.push(fields) };
    // The write itself goes to dynalite; only its duration is made up (the clock moves while it runs).
    const slowRefresher = Object.create(refresher) as LeaseRefresher;
    let delayMs = 0;
    slowRefresher.updateCheckpoint = async (...args: Parameters<LeaseRefresher['updateCheckpoint']>) => {
      void clock.advance(delayMs);
      return refresher.updateCheckpoint(...args);
    };
    await refresher.evictLease((await refresher.listLeases()).find((l) => l.leaseKey === 's-b')!);
    const coordinator = new LeaseCoordinator(
      slowRefresher,
      'worker-b',
      { failoverTimeMs: 9_000, renewIntervalMs: 3_000, takeIntervalMs: 1_000 },
      clock,
      log as typeof silentLogger,
      { acquired: () => {}, lost: () => {} },
    );
    await coordinator.takeOnce();
    expect(coordinator.lease('s-b')).toBeDefined();
    delayMs = 2_000;
    await coordinator.checkpoint('s-b', { sentinel: 'TRIM_HORIZON' });
    expect(warnings).toEqual([]);
    delayMs = 4_000;
    await coordinator.checkpoint('s-b', { sentinel: 'TRIM_HORIZON' });
    expect(warnings).toEqual([{ shardId: 's-b', action: 'checkpoint', queuedMs: 0, writeMs: 4_000 }]);
    expect(coordinator.holdsFresh('s-b')).toBe(true);

    // a write whose answer is read after the failover time (the process paused once DynamoDB had
    // written): it succeeded, but another worker may hold the lease by now, so it is not fresh
    delayMs = 9_500;
    await coordinator.checkpoint('s-b', { sentinel: 'TRIM_HORIZON' });
    expect(coordinator.holdsFresh('s-b')).toBe(false);
    expect(coordinator.lease('s-b')).toBeUndefined();
  });
});
