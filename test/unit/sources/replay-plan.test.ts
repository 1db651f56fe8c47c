/** `planReplay`: which shards a replay moves and to which checkpoint, with no table involved. */
import { describe, expect, it } from 'vitest';
import { planReplay, ReplayPlanError } from '../../../sources/kinesis/checkpoint/replay.ts';
import type { Savepoint } from '../../../sources/kinesis/checkpoint/savepoints.ts';
import type { Lease, LeaseCheckpoint } from '../../../sources/kinesis/leases/lease.ts';

const at = (sequenceNumber: string): LeaseCheckpoint => ({
  position: { sequenceNumber, subSequenceNumber: 0 },
});

function lease(leaseKey: string, checkpoint: LeaseCheckpoint, leaseCounter = 7): Lease {
  return {
    leaseKey,
    leaseOwner: 'worker-a',
    leaseCounter,
    checkpoint,
    pendingCheckpoint: undefined,
    ownerSwitchesSinceCheckpoint: 0,
    parentShardIds: [],
    childShardIds: [],
  };
}

// shard 0 was split into 1 and 2 and is finished; 1 and 2 are open
const leases = [
  lease('shardId-000000000002', at('300')),
  lease('shardId-000000000000', { sentinel: 'SHARD_END' }),
  lease('shardId-000000000001', at('200')),
];
const moved = (plan: ReturnType<typeof planReplay>) =>
  plan.steps.map((s) => [s.shardId, s.checkpoint, s.startTimestamp]);

describe('planReplay', () => {
  it('from a timestamp: every open shard to AT_TIMESTAMP, finished shards skipped', () => {
    const plan = planReplay(leases, { from: { type: 'timestamp', timestamp: 1_700_000_000_000 } });
    expect(moved(plan)).toEqual([
      ['shardId-000000000001', { sentinel: 'AT_TIMESTAMP' }, 1_700_000_000_000],
      ['shardId-000000000002', { sentinel: 'AT_TIMESTAMP' }, 1_700_000_000_000],
    ]);
    expect(plan.skipped).toEqual([
      { shardId: 'shardId-000000000000', reason: expect.stringContaining('SHARD_END') },
    ]);
    // the counter each write is fenced by is the one read when planning
    expect(plan.steps[0]!.lease.leaseCounter).toBe(7);
  });

  it('replays a finished shard when it is named', () => {
    const plan = planReplay(leases, {
      from: { type: 'timestamp', timestamp: 5 },
      shards: ['shardId-000000000000'],
    });
    expect(moved(plan)).toEqual([['shardId-000000000000', { sentinel: 'AT_TIMESTAMP' }, 5]]);
    expect(plan.skipped).toEqual([]);
  });

  it('from a sequence number: that one shard, checkpoint = N (records after N come again)', () => {
    const plan = planReplay(leases, {
      from: { type: 'sequence', sequenceNumber: '150' },
      shards: ['shardId-000000000001'],
    });
    expect(moved(plan)).toEqual([['shardId-000000000001', at('150'), undefined]]);
  });

  it('refuses a sequence number without exactly one shard, or one that is not a number', () => {
    expect(() => planReplay(leases, { from: { type: 'sequence', sequenceNumber: '150' } })).toThrow(
      /exactly that shard/,
    );
    expect(() =>
      planReplay(leases, {
        from: { type: 'sequence', sequenceNumber: '150' },
        shards: ['shardId-000000000001', 'shardId-000000000002'],
      }),
    ).toThrow(ReplayPlanError);
    expect(() =>
      planReplay(leases, {
        from: { type: 'sequence', sequenceNumber: '1e5' },
        shards: ['shardId-000000000001'],
      }),
    ).toThrow(/not a decimal number/);
  });

  it('names every unknown shard', () => {
    expect(() =>
      planReplay(leases, {
        from: { type: 'timestamp', timestamp: 5 },
        shards: ['shardId-000000000001', 'shardId-000000000009', 'nope'],
      }),
    ).toThrow(
      'unknown shards shardId-000000000009, nope: the lease table has shardId-000000000000, shardId-000000000001, shardId-000000000002',
    );
  });

  describe('from a savepoint', () => {
    const savepoint: Savepoint = {
      name: 'before-deploy',
      stream: 'telemetry',
      createdAt: 1,
      shards: new Map([
        ['shardId-000000000000', { checkpoint: at('100') }],
        ['shardId-000000000001', { checkpoint: { sentinel: 'AT_TIMESTAMP' as const }, startTimestamp: 42 }],
        ['shardId-000000000007', { checkpoint: at('700') }],
      ]),
    };

    it('restores each saved checkpoint, finished shards included; a newer shard starts from its beginning', () => {
      const plan = planReplay(leases, { from: { type: 'savepoint', savepoint } });
      expect(moved(plan)).toEqual([
        ['shardId-000000000000', at('100'), undefined],
        ['shardId-000000000001', { sentinel: 'AT_TIMESTAMP' }, 42],
        ['shardId-000000000002', { sentinel: 'TRIM_HORIZON' }, undefined],
      ]);
      expect(plan.steps[2]!.note).toContain('not in savepoint before-deploy');
      expect(plan.skipped).toEqual([
        { shardId: 'shardId-000000000007', reason: expect.stringContaining('no longer leased') },
      ]);
    });

    it('restores only the named shards', () => {
      const plan = planReplay(leases, {
        from: { type: 'savepoint', savepoint },
        shards: ['shardId-000000000001'],
      });
      expect(moved(plan)).toEqual([['shardId-000000000001', { sentinel: 'AT_TIMESTAMP' }, 42]]);
      expect(plan.skipped).toEqual([]);
    });
  });
});
