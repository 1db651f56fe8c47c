/**
 * Issue 6's worker-loss test: the window acceptance workload (`support/windowReference.ts`) through two
 * real `shardflow run` processes sharing the shards through leases, with window state in Redis. Twice
 * mid-run (at 30 % and 65 % of the event time, by the global watermark) a worker that has processed
 * batches beyond its shards' checkpoints (their outputs in the stores, their window state in its
 * memory and, up to its last snapshot, in Redis) is killed with `kill -9` and a replacement started;
 * the dead worker's shards are taken over once their leases expire, restore their last snapshots and
 * resume from their last checkpoints, so every batch it had processed beyond a checkpoint is delivered
 * again. The stores must still hold
 * exactly the brute-force aggregates for every window and key (no double counting, nothing lost), as
 * in `window-reference.test.ts`, and exactly the generator's too-late readings in late: while a dead
 * worker's shards wait for their new owner they hold the global watermark back, and the live worker's
 * shards are held within `maxShardDriftMs` of it (without that, they ran on and met some too-late
 * readings while the watermark was still within their retention, and kept them).
 *
 * Size: as `window-reference.test.ts` (2,000 devices by default, WINDOW_REFERENCE_DEVICES=10000 for
 * the full 480,000 readings).
 */
import { describe, expect, it } from 'vitest';
import type { Position } from '../../topology/index.ts';
import { waitFor } from '../support/wait.ts';
import {
  expectExactlyTheReference,
  progress,
  type RunControl,
  runWindowWorkload,
} from '../support/windowAcceptance.ts';
import { acceptanceWorkload } from '../support/windowReference.ts';
import { comparePositions } from '../support/workerProcesses.ts';

const DEVICES = Number(process.env.WINDOW_REFERENCE_DEVICES ?? 2_000);
// measured on 2 shared cores (load average 9–20): 4–5 min at 2,000 devices, 16.5 min at 10,000
const TIMEOUT_MS = Math.max(15, DEVICES / 250) * 60_000;

/** What one `kill -9` left behind. */
interface Loss {
  readonly worker: string;
  readonly shards: readonly string[];
  /** Shards whose worker had processed batches beyond the lease checkpoint: redelivered. */
  readonly aheadOfCheckpoint: ReadonlyArray<{ shard: string; checkpoint: Position; processed: Position }>;
}

/**
 * Shards (lease key) whose worker processed batches beyond the lease's checkpoint (their records
 * reached the Hot store; the windows applied them to the state in the worker's memory).
 */
async function aheadOfCheckpoints(run: RunControl) {
  const [leases, processed] = [await run.fleet.leases(), await run.processed()];
  return leases.flatMap((lease) => {
    const position = processed.get(lease.leaseKey);
    if (!('position' in lease.checkpoint) || position === undefined) return [];
    const checkpoint = lease.checkpoint.position;
    return comparePositions(position, checkpoint) > 0
      ? [{ shard: lease.leaseKey, owner: lease.leaseOwner, checkpoint, processed: position }]
      : [];
  });
}

/**
 * Kills (kill -9) a live worker that has processed batches beyond a checkpoint (one is, while the
 * watermark still moves), records what it had processed beyond its checkpoints, starts `replacement`.
 */
async function killOne(run: RunControl, replacement: string): Promise<Loss> {
  const live = () =>
    run.fleet.workers.filter((w) => w.cli.child.exitCode === null && w.cli.child.signalCode === null);
  let victim: (typeof run.fleet.workers)[number] | undefined;
  await waitFor(
    'a worker with batches processed beyond its checkpoint',
    async () => {
      await new Promise((r) => setTimeout(r, 200)); // a lease table scan and a Hot store query per poll
      const busy = new Set((await aheadOfCheckpoints(run)).map((a) => a.owner));
      victim = live().find((w) => busy.has(w.id));
      return victim !== undefined;
    },
    60_000,
  );
  await victim!.kill();
  // nobody checkpoints its shards until their leases expire: read both sides now
  const shards = (await run.fleet.leases()).filter((l) => l.leaseOwner === victim!.id).map((l) => l.leaseKey);
  const aheadOfCheckpoint = (await aheadOfCheckpoints(run))
    .filter((a) => a.owner === victim!.id)
    .map(({ shard, checkpoint, processed }) => ({ shard, checkpoint, processed }));
  progress(`killed ${victim!.id}`, { shards, aheadOfCheckpoint: aheadOfCheckpoint.length });
  // as an orchestrator would: a replacement that fails its start (a service check timing out on a
  // loaded machine) is started again
  for (let attempt = 1; ; attempt++) {
    const started = await run.fleet
      .start(replacement)
      .started()
      .then(() => true)
      .catch((error: unknown) => {
        if (attempt >= 3) throw error;
        progress(`replacement ${replacement} failed to start`, String(error).slice(0, 300));
        return false;
      });
    if (started) break;
  }
  progress(`replacement ${replacement} started`);
  return { worker: victim!.id, shards, aheadOfCheckpoint };
}

describe('windows: the reference workload with workers killed mid-run', () => {
  it(
    'stores exactly the brute-force aggregates after two kill -9 and the redelivery they cause',
    async () => {
      const workload = acceptanceWorkload(DEVICES, 66);
      const losses: Loss[] = [];
      const result = await runWindowWorkload({
        label: 'window-loss',
        workload,
        shards: 4,
        workers: ['a', 'b'],
        timeoutMs: TIMEOUT_MS,
        batching:
          DEVICES >= 5_000
            ? { maxRecords: 20, aggregateBytes: 25_000 }
            : { maxRecords: 5, aggregateBytes: 8_000 },
        during: async (run) => {
          await run.progressed(0.3);
          losses.push(await killOne(run, 'c'));
          await run.progressed(0.65);
          losses.push(await killOne(run, 'd'));
        },
      });
      console.log(
        JSON.stringify(
          {
            ...result,
            tooLate: result.tooLate.length,
            losses,
            problems: result.comparison.problems.slice(0, 3),
          },
          null,
          1,
        ),
      );
      // the killed workers ended by signal; every other one drained and exited 0
      const killed = new Set(losses.map((l) => l.worker));
      expect(result.exits).toEqual(
        Object.fromEntries(['a', 'b', 'c', 'd'].map((id) => [id, killed.has(id) ? null : 0])),
      );
      expect(killed.size).toBe(2);
      expect(losses).toHaveLength(2);
      for (const loss of losses) {
        expect(loss.shards.length).toBeGreaterThan(0);
        // the dead worker had processed batches its checkpoints did not cover: they were delivered again
        expect(loss.aheadOfCheckpoint.length).toBeGreaterThan(0);
      }
      expectExactlyTheReference(result, workload);
    },
    TIMEOUT_MS,
  );
});
