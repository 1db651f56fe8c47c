/**
 * The Redis keyed state store: the write of one snapshot (`--keys` changed entries of about
 * `--value-bytes` each: bytes sent, round trips, wall ms, the script's time inside Redis, which is the
 * time Redis serves no one else, and Redis CPU), the restore of a shard (a claim of `--devices` ×
 * `--entries-per-device` entries; goal ≤ 2 s) and one huge write (`--huge` entries of 100 bytes) to
 * show how long a single atomic write holds Redis. Baselines measured in the same run: one plain
 * `HSET` of the same entries (no position, no fencing, no atomicity with anything) and one plain
 * `HGETALL` of the restored hash. Medians of `--runs`, the store and its baseline alternating. Redis
 * runs as a throwaway server (or `--redis-url`: then other clients' work shows in its CPU).
 *
 *   npx tsx bench/stateStore.ts [--keys N] [--value-bytes N] [--devices N] [--entries-per-device N]
 *     [--huge N] [--runs N] [--redis-url URL] [--out FILE] [--results]
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { startRedis } from '../infra/local/redis.ts';
import { redisStateStore } from '../state/keyed/redisStateStore.ts';
import type { StateEntry } from '../topology/index.ts';
import { machineInfo } from './harness/machine.ts';
import { redisCounters } from './redisCounters.ts';
import { count, writeLatestFigures } from './results.ts';

const { values } = parseArgs({
  options: {
    results: { type: 'boolean', default: false },
    keys: { type: 'string', default: '25000' },
    'value-bytes': { type: 'string', default: '200' },
    devices: { type: 'string', default: '25000' },
    'entries-per-device': { type: 'string', default: '4' },
    huge: { type: 'string', default: '250000' },
    runs: { type: 'string', default: '5' },
    'redis-url': { type: 'string' },
    out: { type: 'string' },
  },
});
const KEYS = Number(values.keys);
const VALUE_BYTES = Number(values['value-bytes']);
const DEVICES = Number(values.devices);
const PER_DEVICE = Number(values['entries-per-device']);
const HUGE = Number(values.huge);
const RUNS = Number(values.runs);
const RESTORE_GOAL_MS = 2000;

/** An operator's entries as the runtime names them (`[node, state, key]`, a map state's with a field). */
function deviceEntries(devices: number, perDevice: number, valueBytes: number, round: number): StateEntry[] {
  const entries: StateEntry[] = [];
  for (let d = 0; d < devices; d++) {
    const device = `dev-${String(d).padStart(6, '0')}`;
    for (let e = 0; e < perDevice; e++) {
      const key =
        e === 0
          ? JSON.stringify(['sessions', 'last', device])
          : JSON.stringify(['sessions', 'readings', device, `m${e}`]);
      const value = Buffer.alloc(valueBytes, (d + e + round) % 251);
      value.writeUInt32LE(round, 0);
      entries.push({ key, value });
    }
  }
  return entries;
}

interface Measured {
  ms: number;
  redisCpuMs: number;
  scriptMs: number;
}

/** Times `work`, with the Redis CPU and script time it caused. */
async function measure(admin: Redis, work: () => Promise<unknown>): Promise<Measured> {
  const before = await redisCounters(admin);
  const started = performance.now();
  await work();
  const ms = performance.now() - started;
  const after = await redisCounters(admin);
  return {
    ms,
    redisCpuMs: (after.cpu - before.cpu) * 1000,
    scriptMs: (after.scriptUs - before.scriptUs) / 1000,
  };
}

const median = (xs: readonly number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
const medians = (runs: readonly Measured[]): Measured => ({
  ms: median(runs.map((r) => r.ms)),
  redisCpuMs: median(runs.map((r) => r.redisCpuMs)),
  scriptMs: median(runs.map((r) => r.scriptMs)),
});
const at = (n: number) => ({ sequenceNumber: String(1_000 + n), subSequenceNumber: 0 });

async function main(): Promise<void> {
  const server = values['redis-url'] ? undefined : await startRedis();
  const redisUrl = values['redis-url'] ?? server!.url;
  const admin = new Redis(redisUrl);
  const namespace = `bench-${Date.now()}`;
  const store = redisStateStore({ redisUrl, namespace });
  try {
    await store.open();

    // a snapshot changing KEYS entries, against one plain HSET of the same entries
    const writeKeys = Math.ceil(KEYS / PER_DEVICE);
    await store.claim('write', 'bench');
    const write: Measured[] = [];
    const hset: Measured[] = [];
    let bytes = 0;
    let roundTrips = 0;
    for (let run = 0; run <= RUNS; run++) {
      const upserts = deviceEntries(writeKeys, PER_DEVICE, VALUE_BYTES, run).slice(0, KEYS);
      const plain = upserts.flatMap((e) => [e.key, e.value as Buffer]);
      const stored = await measure(admin, async () => {
        const receipt = await store.write({
          shardId: 'write',
          owner: 'bench',
          position: at(run),
          upserts,
          deletes: [],
        });
        bytes = receipt.bytes;
        roundTrips = receipt.roundTrips;
      });
      const baseline = await measure(admin, () => admin.hset('baseline:write', plain));
      // the first round loads the script and warms both paths up
      if (run === 0) continue;
      write.push(stored);
      hset.push(baseline);
    }

    // a shard of DEVICES × PER_DEVICE entries, claimed by a new owner each run, against one HGETALL
    const restoreEntries = deviceEntries(DEVICES, PER_DEVICE, 100, 0);
    await store.claim('restore', 'writer');
    await store.write({
      shardId: 'restore',
      owner: 'writer',
      position: at(0),
      upserts: restoreEntries,
      deletes: [],
    });
    const entriesKey = `sf:{${namespace}}:ks:e:restore`;
    const restoreBytes = restoreEntries.reduce((n, e) => n + Buffer.byteLength(e.key) + e.value.length, 0);
    const claim: Measured[] = [];
    const hgetall: Measured[] = [];
    let claimTrips = 0;
    for (let run = 0; run <= RUNS; run++) {
      const trips = store.roundTrips;
      const claimed = await measure(admin, async () => {
        const snapshot = await store.claim('restore', `owner-${run}`);
        if (snapshot?.entries.length !== restoreEntries.length) throw new Error('restore lost entries');
      });
      claimTrips = store.roundTrips - trips;
      const baseline = await measure(admin, () => admin.hgetallBuffer(entriesKey));
      if (run === 0) continue;
      claim.push(claimed);
      hgetall.push(baseline);
    }

    // one huge write: how long one atomic snapshot holds Redis
    let huge: (Measured & { bytes: number }) | undefined;
    if (HUGE > 0) {
      const upserts = deviceEntries(HUGE, 1, 100, 1);
      await store.claim('huge', 'bench');
      let hugeBytes = 0;
      const measured = await measure(admin, async () => {
        hugeBytes = (
          await store.write({ shardId: 'huge', owner: 'bench', position: at(1), upserts, deletes: [] })
        ).bytes;
      });
      huge = { ...measured, bytes: hugeBytes };
    }

    const result = {
      at: new Date().toISOString(),
      machine: machineInfo(),
      runs: RUNS,
      write: {
        keys: KEYS,
        valueBytes: VALUE_BYTES,
        bytes,
        roundTrips,
        ...medians(write),
        baselineHset: medians(hset),
      },
      restore: {
        devices: DEVICES,
        entriesPerDevice: PER_DEVICE,
        entries: restoreEntries.length,
        bytes: restoreBytes,
        roundTrips: claimTrips,
        ...medians(claim),
        baselineHgetall: medians(hgetall),
      },
      huge: huge && { entries: HUGE, valueBytes: 100, ...huge },
      redisUsedMemory: (await admin.info('memory')).match(/used_memory_human:(\S+)/)?.[1],
    };
    // with --redis-url the server is someone else's: leave nothing behind
    const left = await admin.keys(`sf:{${namespace}}:*`);
    await admin.unlink('baseline:write', ...left);
    console.log(JSON.stringify(result, null, 2));
    if (values.out) writeFileSync(values.out, `${JSON.stringify(result, null, 2)}\n`);
    if (values.results) {
      const ms = (x: number) => x.toFixed(0);
      const w = result.write;
      const r = result.restore;
      writeLatestFigures({
        name: 'state-store',
        heading: '## Keyed state store (`npm run bench:state`)',
        command: `npm run bench:state -- --keys ${KEYS} --value-bytes ${VALUE_BYTES} --devices ${DEVICES} --entries-per-device ${PER_DEVICE} --huge ${HUGE} --runs ${RUNS} --results`,
        lines: [
          `The Redis keyed state store, medians of ${RUNS} runs after a warm-up, each against its baseline in the same run. "In Redis" is the script's run time (\`commandstats\`), during which Redis serves no other client.`,
          '',
          '| | entries | bytes sent / read | round trips | ms | in Redis, ms | Redis CPU, ms |',
          '|---|---:|---:|---:|---:|---:|---:|',
          `| write: one snapshot changing ${count(w.keys)} entries of ${w.valueBytes} B | ${count(w.keys)} | ${count(w.bytes)} | ${w.roundTrips} | ${ms(w.ms)} | ${ms(w.scriptMs)} | ${ms(w.redisCpuMs)} |`,
          `| baseline: one plain HSET of the same entries | ${count(w.keys)} | | 1 | ${ms(w.baselineHset.ms)} | – | ${ms(w.baselineHset.redisCpuMs)} |`,
          `| restore: claim of ${count(r.devices)} devices × ${r.entriesPerDevice} entries of 100 B | ${count(r.entries)} | ${count(r.bytes)} | ${r.roundTrips} | ${ms(r.ms)} | ${ms(r.scriptMs)} | ${ms(r.redisCpuMs)} |`,
          `| baseline: one plain HGETALL of the same hash | ${count(r.entries)} | | 1 | ${ms(r.baselineHgetall.ms)} | – | ${ms(r.baselineHgetall.redisCpuMs)} |`,
          ...(result.huge
            ? [
                `| huge write: one snapshot of ${count(result.huge.entries)} entries of 100 B | ${count(result.huge.entries)} | ${count(result.huge.bytes)} | 1 | ${ms(result.huge.ms)} | ${ms(result.huge.scriptMs)} | ${ms(result.huge.redisCpuMs)} |`,
              ]
            : []),
          '',
          `Ratios to the baselines (wall): write ${(w.ms / w.baselineHset.ms).toFixed(2)}, restore ${(r.ms / r.baselineHgetall.ms).toFixed(2)}. Restore goal ≤ ${count(RESTORE_GOAL_MS)} ms: ${r.ms <= RESTORE_GOAL_MS ? 'met' : 'not met'} (${(r.ms / RESTORE_GOAL_MS).toFixed(2)} of it).`,
        ],
      });
    }
  } finally {
    await store.close();
    admin.disconnect();
    await server?.stop();
  }
}

await main();
