import { describe, expect, it } from 'vitest';
import type { Lease } from '../../../sources/kinesis/leases/lease.ts';
import { LeaseTaker } from '../../../sources/kinesis/leases/leaseTaker.ts';

const lease = (leaseKey: string, leaseOwner: string | undefined, leaseCounter = 1, end = false): Lease => ({
  leaseKey,
  leaseOwner,
  leaseCounter,
  checkpoint: end ? { sentinel: 'SHARD_END' } : { sentinel: 'TRIM_HORIZON' },
  pendingCheckpoint: undefined,
  ownerSwitchesSinceCheckpoint: 0,
  parentShardIds: [],
  childShardIds: [],
});
const FAILOVER = 10_000;

describe('lease taker', () => {
  it('takes unowned leases up to ⌈leases / workers⌉ at once', () => {
    const taker = new LeaseTaker('a', FAILOVER, () => 0.5);
    const leases = [lease('s0', undefined), lease('s1', undefined), lease('s2', 'b'), lease('s3', 'b')];
    taker.observe(leases, 0);
    const plan = taker.plan(leases, 0);
    expect(plan).toMatchObject({ target: 2, liveWorkers: 2 });
    expect(plan.expired.map((l) => l.leaseKey).sort()).toEqual(['s0', 's1']);
  });

  it('treats a lease as expired only after its counter stood still for the failover time, as observed here', () => {
    const taker = new LeaseTaker('a', FAILOVER);
    const first = [lease('s0', 'b', 5)];
    taker.observe(first, 1_000);
    expect(taker.plan(first, 1_000 + FAILOVER).expired).toEqual([]);
    const renewed = [lease('s0', 'b', 6)];
    taker.observe(renewed, 9_000);
    expect(taker.plan(renewed, 1_001 + FAILOVER).expired).toEqual([]);
    expect(taker.plan(renewed, 9_001 + FAILOVER).expired.map((l) => l.leaseKey)).toEqual(['s0']);
  });

  it('steals one lease from the most loaded worker only when it is above target', () => {
    const taker = new LeaseTaker('c', FAILOVER, () => 0);
    const leases = ['a', 'a', 'a', 'a', 'a', 'b', 'b', 'b'].map((owner, i) => lease(`s${i}`, owner));
    taker.observe(leases, 0);
    const plan = taker.plan(leases, 0);
    expect(plan).toMatchObject({ target: 3, liveWorkers: 3, expired: [] });
    expect(plan.steal?.leaseOwner).toBe('a');

    // 3/3/2 is balanced: nobody is above target 3, so nothing moves
    const balanced = ['a', 'a', 'a', 'b', 'b', 'b', 'c', 'c'].map((owner, i) => lease(`s${i}`, owner));
    taker.observe(balanced, 0);
    expect(taker.plan(balanced, 0)).toMatchObject({ expired: [], steal: undefined });
  });

  it('leaves finished shards out of the balance', () => {
    const taker = new LeaseTaker('a', FAILOVER);
    const leases = [lease('s0', undefined, 1, true), lease('s1', 'b'), lease('s2', 'b')];
    taker.observe(leases, 0);
    const plan = taker.plan(leases, 0);
    // the unowned finished lease is not taken; the two live ones balance to one each
    expect(plan).toMatchObject({ target: 1, expired: [] });
    expect(plan.steal?.leaseKey).toMatch(/^s[12]$/);
  });
});
