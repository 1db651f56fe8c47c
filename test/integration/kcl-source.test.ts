/**
 * The leased Kinesis source (native KCL) in one process against kinesalite and dynalite: two
 * workers split the shards, every record arrives, checkpoints land in the lease table, and a worker
 * that stops hands its leases over at once.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { kinesisProducer } from '../../gateways/kinesis/producer.ts';
import { simulatedFleet } from '../../gateways/simulator/fleet.ts';
import { createKinesisClient } from '../../sources/kinesis/client.ts';
import { type RawRecord, type Sink, systemClock } from '../../topology/index.ts';
import { testDynamoClient, uniqueTable } from '../support/dynamodb.ts';
import { startLeasedWorker } from '../support/kclInProcess.ts';
import { createStream, uniqueStream } from '../support/kinesis.ts';
import { testEnv, waitFor } from '../support/wait.ts';

const endpoint = () => testEnv('SHARDFLOW_TEST_KINESIS_ENDPOINT');

describe('kcl source (kinesalite + dynalite)', () => {
  const kinesis = createKinesisClient({ region: 'us-east-1', endpoint: endpoint() });
  const dynamo = testDynamoClient();
  afterAll(() => {
    kinesis.destroy();
    dynamo.destroy();
  });

  it('balances shards over two workers, delivers every record, and hands leases over on stop', async () => {
    const stream = uniqueStream('kcl');
    const table = uniqueTable('kcl');
    await createStream(kinesis, stream, 4);
    const a: RawRecord[] = [];
    const b: RawRecord[] = [];
    const collect = (into: RawRecord[]): Sink<RawRecord> => ({
      type: 'collect',
      write: async (batch) => void into.push(...batch),
    });
    const wa = startLeasedWorker(stream, table, 'worker-a', collect(a));
    const wb = startLeasedWorker(stream, table, 'worker-b', collect(b));
    await waitFor('2/2 balance', () => wa.source.leaseCount() === 2 && wb.source.leaseCount() === 2, 15_000);

    const producer = kinesisProducer({ client: kinesis, clock: systemClock, streamName: stream });
    const produced = await producer.put(simulatedFleet({ devices: 64, seed: 2 }).batch(Date.now(), 1000));
    await waitFor('all records', () => a.length + b.length >= produced);
    expect(new Set([...a, ...b].map((r) => r.sequenceNumber)).size).toBe(produced);
    expect(new Set(a.map((r) => r.shardId)).size).toBe(2);
    expect(new Set(b.map((r) => r.shardId)).size).toBe(2);

    // graceful stop of a: its leases are released at once and b takes them well before the failover time
    const stoppedAt = Date.now();
    await wa.runtime.stop();
    await wa.done;
    await waitFor('b holds all', () => wb.source.leaseCount() === 4, 5_000);
    expect(Date.now() - stoppedAt).toBeLessThan(1500);

    // no redelivery: a's checkpoints covered everything it had read
    const more = await producer.put(simulatedFleet({ devices: 64, seed: 3 }).batch(Date.now(), 200));
    await waitFor('the new records', () => a.length + b.length >= produced + more);
    await new Promise((r) => setTimeout(r, 300));
    expect(a.length + b.length).toBe(produced + more);

    const leases = await wb.source.refresher.listLeases();
    expect(leases.every((l) => l.leaseOwner === 'worker-b')).toBe(true);
    expect(leases.every((l) => 'position' in l.checkpoint)).toBe(true);
    await wb.runtime.stop();
    await wb.done;
    expect((await wb.source.refresher.listLeases()).every((l) => l.leaseOwner === undefined)).toBe(true);
  });
});
