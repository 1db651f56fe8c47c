/**
 * The in-process mode's source: shards whose batches are generated from the workload when the
 * runtime pulls them (so backpressure bounds memory, as a Kinesis reader's would), unpaced or paced
 * by the workload's rate profile, with one visibility marker per shard every `markerIntervalMs`.
 */
import {
  AsyncQueue,
  type Clock,
  type RawRecord,
  type ShardHandle,
  type Source,
  type SourceBatch,
} from '../../topology/index.ts';
import { dueBy, type RateProfile } from '../workloads/profiles.ts';
import type { WorkloadGenerator } from '../workloads/workload.ts';
import type { Marker, VisibilityProbe } from './probe.ts';

/** What the generated source is made of. */
export interface GeneratedSourceOptions {
  readonly generator: WorkloadGenerator;
  readonly probe: VisibilityProbe;
  readonly shards: number;
  /** Records (envelopes) per batch at most. */
  readonly batch: number;
  /** Paces generation by this profile; unpaced (as fast as the runtime pulls) when absent. */
  readonly profile?: RateProfile;
  readonly markerIntervalMs: number;
  readonly clock: Clock;
}

/** A source of generated records that can be told to stop. */
export interface GeneratedSource extends Source<RawRecord> {
  /** Every marker sent so far. */
  readonly markers: readonly Marker[];
  /** Envelopes generated so far (markers excluded). */
  envelopes(): number;
  /** CPU time spent generating and encoding records (ms): the generator's share of the process. */
  generatorMs(): number;
  /** Ends every shard after its current batch; the runtime then drains and finishes. */
  stop(): void;
}

const STREAM = 'bench';
const PACE_TICK_MS = 20;

/** A generated source of `shards` shards. */
export function generatedSource(options: GeneratedSourceOptions): GeneratedSource {
  const { generator, probe, clock, shards, batch, profile } = options;
  const markers: Marker[] = [];
  const shardQueue = new AsyncQueue<ShardHandle<RawRecord>>();
  let stopped = false;
  let started: number | undefined;
  let generatedMs = 0;
  let envelopes = 0;

  async function* batchesOf(shard: number, shardId: string): AsyncGenerator<SourceBatch<RawRecord>> {
    let sequence = 0;
    let produced = 0;
    let markerIndex = 0;
    let nextMarkerAt = 0;
    const raw = (partitionKey: string, data: Uint8Array, now: number): RawRecord => ({
      stream: STREAM,
      shardId,
      sequenceNumber: String(++sequence),
      partitionKey,
      arrivedAt: now,
      data,
    });
    while (!stopped) {
      // Everything downstream may resolve at once (in-memory stores): without a turn of the event
      // loop per batch, the pipeline would run on microtasks alone and starve every timer.
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (stopped) break;
      const now = clock.now();
      started ??= now;
      let count = batch;
      if (profile !== undefined) {
        const due = Math.floor(dueBy(profile, (now - started) / 1000) / shards) - produced;
        count = Math.min(batch, due);
        if (count <= 0 && now < nextMarkerAt) {
          await clock.sleep(PACE_TICK_MS);
          continue;
        }
      }
      // CPU time, not wall time: on a busy machine the process is often descheduled mid-batch.
      const cpu0 = process.cpuUsage();
      const records: RawRecord[] = [];
      for (let i = 0; i < count; i++) {
        const g = generator.next(now);
        records.push(raw(g.partitionKey, Buffer.from(JSON.stringify(g.envelope)), now));
      }
      produced += Math.max(0, count);
      envelopes += Math.max(0, count);
      if (now >= nextMarkerAt) {
        const envelope = probe.envelope(shard, markerIndex, now);
        records.push(raw(probe.laneKeys[shard]!, Buffer.from(JSON.stringify(envelope)), now));
        markers.push({ lane: shard, index: markerIndex++, receivedAt: now });
        nextMarkerAt = now + options.markerIntervalMs;
      }
      const cpu = process.cpuUsage(cpu0);
      generatedMs += (cpu.user + cpu.system) / 1000;
      yield { records, position: { sequenceNumber: String(sequence), subSequenceNumber: 0 } };
    }
  }

  const stop = () => {
    stopped = true;
    shardQueue.end();
  };

  return {
    type: 'generated',
    markers,
    envelopes: () => envelopes,
    generatorMs: () => generatedMs,
    stop,
    shards(ctx) {
      ctx.signal.addEventListener('abort', stop, { once: true });
      for (let s = 0; s < shards; s++) {
        const shardId = `shardId-${String(s).padStart(12, '0')}`;
        shardQueue.push({
          shardId,
          batches: batchesOf(s, shardId),
          checkpoint: async () => {},
          release: async () => {},
        });
      }
      return shardQueue;
    },
  };
}
