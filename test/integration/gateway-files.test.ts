/**
 * The file gateway against kinesalite, a temporary directory and s3rver: CSV files with a header and
 * binary dumps land as `file` envelopes with their line or offset; a second run skips them; a run
 * stopped in the middle resumes and the stream holds every record exactly once, in file order; a
 * changed file is taken again; a file whose framing breaks leaves its bytes as a rejected envelope
 * while the others complete; through the fault proxy (entry failures, throttles, a stall) every
 * record still lands once and in order, and the gateway's buffer stays within its bound.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { directorySource } from '../../gateways/files/directorySource.ts';
import type { FileSource } from '../../gateways/files/fileSource.ts';
import {
  type FilesGatewayConfigInput,
  filesExitCode,
  filesGatewayConfigSchema,
  runFilesGateway,
} from '../../gateways/files/index.ts';
import { type DurableIngest, durableIngest, type IngestLimits } from '../../gateways/ingest/durableIngest.ts';
import { type KinesisFaultProxy, startKinesisFaultProxy } from '../../infra/local/kinesisFaults.ts';
import { createKinesisClient } from '../../sources/kinesis/client.ts';
import { type IngestEnvelope, systemClock } from '../../topology/index.ts';
import { createStream, readStream, uniqueStream } from '../support/kinesis.ts';
import { type RunningS3rver, startS3rver } from '../support/s3rver.ts';
import { testEnv, waitFor } from '../support/wait.ts';

const kinesisEndpoint = testEnv('SHARDFLOW_TEST_KINESIS_ENDPOINT');

interface Landed {
  readonly partitionKey: string;
  readonly envelope: IngestEnvelope;
}

/** Every record on the stream (one shard: in order), its envelope read. */
async function landed(client: KinesisClient, stream: string): Promise<Landed[]> {
  return (await readStream(client, stream)).map((r) => ({
    partitionKey: r.partitionKey,
    envelope: JSON.parse(r.data.toString('utf8')) as IngestEnvelope,
  }));
}

const sources = (rows: Landed[]) => rows.map((r) => r.envelope.source);
const payloads = (rows: Landed[]) => rows.map((r) => r.envelope.payload);

const tempRoots: string[] = [];
function tempDir(label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `gw-files-${label}-`));
  tempRoots.push(dir);
  return dir;
}

/** A logger CSV: a header and `rows` data lines. */
function csv(device: string, rows: number, from = 0): string {
  const lines = ['device;time;temp_c;pressure_hpa'];
  for (let i = from; i < from + rows; i++)
    lines.push(
      `${device};2026-12-01T00:${String(Math.floor(i / 60) % 60).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}Z;${(20 + (i % 10) / 10).toFixed(1)};1013`,
    );
  return `${lines.join('\n')}\n`;
}

/** A binary dump of `count` frames, each a 2-byte big-endian length and its body. */
function dump(label: string, count: number): { bytes: Buffer; frames: Buffer[] } {
  const frames = Array.from({ length: count }, (_, i) => {
    const body = Buffer.from(`${label}-${i}-\u0001\u0002`, 'latin1');
    const frame = Buffer.alloc(2 + body.length);
    frame.writeUInt16BE(body.length, 0);
    body.copy(frame, 2);
    return frame;
  });
  return { bytes: Buffer.concat(frames), frames };
}

const CSV_CONFIG: FilesGatewayConfigInput = {
  productId: 'logger-c5',
  framing: { kind: 'lines' },
  header: 'repeat',
  include: '*.csv',
};

let s3rver: RunningS3rver | undefined;

describe('file gateway (kinesalite, s3rver)', () => {
  let kinesis: KinesisClient;
  let s3: S3Client;
  let proxy: KinesisFaultProxy;
  const ingests: DurableIngest[] = [];

  beforeAll(async () => {
    kinesis = createKinesisClient({ region: 'us-east-1', endpoint: kinesisEndpoint });
    proxy = await startKinesisFaultProxy({ target: kinesisEndpoint, seed: 23 });
    s3rver = await startS3rver(tempDir('s3rver'));
    const endpoint = s3rver.endpoint;
    s3 = new S3Client({
      region: 'us-east-1',
      endpoint,
      forcePathStyle: true,
      requestHandler: new NodeHttpHandler(),
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    await s3.send(new CreateBucketCommand({ Bucket: 'drop' }));
  });
  afterAll(async () => {
    await Promise.all(ingests.map((i) => i.close(1_000)));
    kinesis.destroy();
    s3.destroy();
    await proxy.close();
    s3rver?.stop();
    for (const dir of tempRoots) rmSync(dir, { recursive: true, force: true });
  });

  async function newStream(label: string): Promise<string> {
    const stream = uniqueStream(label);
    await createStream(kinesis, stream, 1);
    return stream;
  }

  function ingestFor(stream: string, client = kinesis, limits: Partial<IngestLimits> = {}): DurableIngest {
    const ingest = durableIngest({
      client,
      streamName: stream,
      clock: systemClock,
      limits: { lingerMs: 5, initialRetryDelayMs: 20, maxRetryDelayMs: 200, ...limits },
    });
    ingests.push(ingest);
    return ingest;
  }

  it('puts CSV records with the header repeated, skips them on a second run, takes a changed file again', async () => {
    const dir = tempDir('csv');
    writeFileSync(join(dir, 'a.csv'), csv('dev-a', 5));
    writeFileSync(join(dir, 'b.csv'), csv('dev-b', 3));
    writeFileSync(join(dir, 'notes.txt'), 'not a csv\n');
    const stream = await newStream('files-csv');
    const config = filesGatewayConfigSchema.parse(CSV_CONFIG);
    const ingest = ingestFor(stream);
    const progress: string[] = [];

    const first = await runFilesGateway({
      config,
      from: dir,
      ingest,
      clock: systemClock,
      onProgress: (p) => progress.push(`${p.event} ${p.file.split('/').at(-1)}`),
    });
    expect(first).toEqual({
      files: 2,
      skipped: 0,
      records: 8,
      bytes: expect.any(Number),
      failed: [],
      stopped: false,
    });
    expect(filesExitCode(first)).toBe(0);
    expect(progress).toEqual(
      expect.arrayContaining(['started a.csv', 'done a.csv', 'started b.csv', 'done b.csv']),
    );

    const rows = await landed(kinesis, stream);
    const aUri = pathToFileURL(join(dir, 'a.csv')).href;
    const aRows = rows.filter((r) => r.partitionKey === `file:${aUri}`);
    expect(sources(aRows)).toEqual([2, 3, 4, 5, 6].map((n) => `${aUri}#line ${n}`));
    const lines = csv('dev-a', 5).trimEnd().split('\n');
    expect(payloads(aRows)).toEqual(lines.slice(1).map((l) => `${lines[0]}\n${l}`));
    expect(aRows[0]!.envelope).toMatchObject({
      v: 1,
      protocol: 'file',
      productId: 'logger-c5',
      encoding: 'utf8',
    });
    expect(rows).toHaveLength(8);

    const second = await runFilesGateway({ config, from: dir, ingest, clock: systemClock });
    expect(second).toMatchObject({ files: 0, skipped: 2, records: 0, failed: [] });
    expect(await landed(kinesis, stream)).toHaveLength(8);

    writeFileSync(join(dir, 'a.csv'), csv('dev-a', 7, 100));
    const third = await runFilesGateway({ config, from: dir, ingest, clock: systemClock });
    expect(third).toMatchObject({ files: 1, skipped: 1, records: 7, failed: [] });
    const after = (await landed(kinesis, stream)).filter((r) => r.partitionKey === `file:${aUri}`);
    expect(sources(after.slice(5))).toEqual([2, 3, 4, 5, 6, 7, 8].map((n) => `${aUri}#line ${n}`));
    expect(after.at(-1)!.envelope.payload).toContain('dev-a;2026-12-01T00:01:46Z');
  });

  it("puts each record under the key finder's device key, each device's records in file order", async () => {
    const dir = tempDir('keys');
    const rows = Array.from(
      { length: 60 },
      (_, i) => `dev-${i % 3};2026-12-01T00:00:${String(i).padStart(2, '0')}Z;${i};1013`,
    );
    writeFileSync(join(dir, 'mixed.csv'), `device;time;temp_c;pressure_hpa\n${rows.join('\n')}\n`);
    const stream = await newStream('files-keys');
    const ingest = ingestFor(stream);
    const seen: (string | undefined)[] = [];
    const summary = await runFilesGateway({
      config: filesGatewayConfigSchema.parse(CSV_CONFIG),
      from: dir,
      ingest,
      clock: systemClock,
      keyFinder: (payload, productId) => {
        seen.push(productId);
        const line = Buffer.from(payload).toString('utf8').split('\n')[1]!;
        return line.startsWith('dev-2') ? undefined : line.split(';')[0];
      },
    });
    expect(summary).toMatchObject({ files: 1, records: 60, failed: [] });
    expect(new Set(seen)).toEqual(new Set(['logger-c5']));
    const uri = pathToFileURL(join(dir, 'mixed.csv')).href;
    const landedRows = await landed(kinesis, stream);
    const keys = ['dev-0', 'dev-1', `file:${uri}`];
    keys.forEach((key, d) => {
      const mine = landedRows.filter((r) => r.partitionKey === key);
      expect(sources(mine)).toEqual(rows.flatMap((_, i) => (i % 3 === d ? [`${uri}#line ${i + 2}`] : [])));
    });
    expect(landedRows).toHaveLength(60);
  });

  it('puts binary dumps from S3 with their offsets; a file whose framing breaks leaves a rejected envelope', async () => {
    const good = dump('good', 20);
    const other = dump('other', 4);
    // A length of 0xffff is past maxFrameBytes: the framing breaks at the third frame.
    const broken = Buffer.concat([dump('bad', 2).bytes, Buffer.from([0xff, 0xff, 1, 2, 3])]);
    for (const [key, body] of [
      ['dumps/2026/good.bin', good.bytes],
      ['dumps/2026/other.bin', other.bytes],
      ['dumps/2026/broken.bin', broken],
      ['elsewhere/ignored.bin', good.bytes],
    ] as const)
      await s3.send(new PutObjectCommand({ Bucket: 'drop', Key: key, Body: body }));
    const stream = await newStream('files-s3');
    const config = filesGatewayConfigSchema.parse({
      framing: { kind: 'length-prefix', lengthBytes: 2, maxFrameBytes: 1024 },
      include: '.bin',
    });
    const ingest = ingestFor(stream);

    const summary = await runFilesGateway({
      config,
      from: 's3://drop/dumps',
      ingest,
      clock: systemClock,
      s3Client: s3,
    });
    expect(summary.files).toBe(3);
    expect(summary.records).toBe(26);
    expect(summary.failed).toEqual([
      { uri: 's3://drop/dumps/2026/broken.bin', reason: expect.stringContaining('65535') },
    ]);
    expect(filesExitCode(summary)).toBe(1);

    const rows = await landed(kinesis, stream);
    const goodRows = rows.filter((r) => r.partitionKey === 'file:s3://drop/dumps/2026/good.bin');
    let offset = 0;
    expect(sources(goodRows)).toEqual(
      good.frames.map((f) => {
        const at = `s3://drop/dumps/2026/good.bin#offset ${offset}`;
        offset += f.length;
        return at;
      }),
    );
    expect(goodRows.map((r) => Buffer.from(r.envelope.payload, 'base64'))).toEqual(good.frames);
    expect(goodRows[0]!.envelope.encoding).toBe('base64');

    const brokenRows = rows.filter((r) => r.partitionKey === 'file:s3://drop/dumps/2026/broken.bin');
    expect(brokenRows).toHaveLength(3);
    const rejected = brokenRows[2]!.envelope;
    expect(rejected.rejected).toContain('65535');
    expect(rejected.source).toBe(`s3://drop/dumps/2026/broken.bin#offset ${dump('bad', 2).bytes.length}`);
    expect([...Buffer.from(rejected.payload, rejected.encoding === 'base64' ? 'base64' : 'utf8')]).toEqual([
      0xff, 0xff, 1, 2, 3,
    ]);
    expect(rows.some((r) => r.envelope.source?.includes('elsewhere'))).toBe(false);

    // Progress is kept under the prefix; a second run skips all three (the broken one is done: its bytes are rejected).
    const again = await runFilesGateway({
      config,
      from: 's3://drop/dumps',
      ingest,
      clock: systemClock,
      s3Client: s3,
    });
    expect(again).toMatchObject({ files: 0, skipped: 3, records: 0, failed: [] });
    expect(await landed(kinesis, stream)).toHaveLength(rows.length);
  });

  it('resumes a stopped run where it stopped: every record exactly once, in file order', async () => {
    const dir = tempDir('resume');
    writeFileSync(join(dir, 'big.csv'), csv('dev-r', 900));
    writeFileSync(join(dir, 'small.csv'), csv('dev-s', 40));
    const stream = await newStream('files-resume');
    const config = filesGatewayConfigSchema.parse({ ...CSV_CONFIG, concurrency: 1, linesPerRecord: 2 });
    const ingest = ingestFor(stream);
    const stop = new AbortController();
    let offered = 0;
    const stopping: DurableIngest = {
      ...ingest,
      offer(record) {
        if (++offered === 137) stop.abort();
        return ingest.offer(record);
      },
      whenRoom: () => ingest.whenRoom(),
      stats: () => ingest.stats(),
      get hasRoom() {
        return ingest.hasRoom;
      },
    };

    const first = await runFilesGateway({
      config,
      from: dir,
      ingest: stopping,
      clock: systemClock,
      signal: stop.signal,
    });
    expect(first.stopped).toBe(true);
    expect(first.records).toBe(137);
    expect(filesExitCode(first)).toBe(2);
    const partial = await landed(kinesis, stream);
    expect(partial).toHaveLength(137);

    const second = await runFilesGateway({ config, from: dir, ingest, clock: systemClock });
    expect(second).toMatchObject({
      files: 2,
      skipped: 0,
      records: 450 - 137 + 20,
      failed: [],
      stopped: false,
    });
    const rows = await landed(kinesis, stream);
    const bigUri = pathToFileURL(join(dir, 'big.csv')).href;
    const big = rows.filter((r) => r.partitionKey === `file:${bigUri}`);
    // Line 2 and 3 form the first record, 4 and 5 the second, ...
    expect(sources(big)).toEqual(Array.from({ length: 450 }, (_, i) => `${bigUri}#line ${2 + 2 * i}`));
    const lines = csv('dev-r', 900).trimEnd().split('\n');
    expect(payloads(big)).toEqual(
      Array.from({ length: 450 }, (_, i) => [lines[0], lines[1 + 2 * i], lines[2 + 2 * i]].join('\n')),
    );
    expect(rows).toHaveLength(470);
  });

  it('stops, not fails, when its ingest closes under it; the next run puts the rest once', async () => {
    const dir = tempDir('closed');
    writeFileSync(join(dir, 'log.csv'), csv('dev-c', 400));
    const stream = await newStream('files-closed');
    const config = filesGatewayConfigSchema.parse(CSV_CONFIG);
    const first = ingestFor(stream);
    let offered = 0;
    let closing: Promise<void> | undefined;
    const closingIngest: DurableIngest = {
      ...first,
      offer(record) {
        if (++offered === 150) closing = first.close(5_000);
        return first.offer(record);
      },
      whenRoom: () => first.whenRoom(),
      stats: () => first.stats(),
      get hasRoom() {
        return first.hasRoom;
      },
    };
    const stoppedRun = await runFilesGateway({
      config,
      from: dir,
      ingest: closingIngest,
      clock: systemClock,
    });
    await closing;
    expect(stoppedRun).toMatchObject({ failed: [], stopped: true });
    const put = stoppedRun.records;
    expect((await landed(kinesis, stream)).length).toBe(put);

    const rest = await runFilesGateway({ config, from: dir, ingest: ingestFor(stream), clock: systemClock });
    expect(rest).toMatchObject({ files: 1, records: 400 - put, failed: [], stopped: false });
    const uri = pathToFileURL(join(dir, 'log.csv')).href;
    expect(sources(await landed(kinesis, stream))).toEqual(
      Array.from({ length: 400 }, (_, i) => `${uri}#line ${i + 2}`),
    );
  });

  it('reads on from where a cut-off read stopped: every record once', async () => {
    const dir = tempDir('cutoff');
    writeFileSync(join(dir, 'cut.csv'), csv('dev-x', 200));
    const stream = await newStream('files-cutoff');
    const config = filesGatewayConfigSchema.parse(CSV_CONFIG);
    const real = directorySource(dir);
    const offsets: number[] = [];
    const cutting: FileSource = {
      ...real,
      async *read(file, offset) {
        offsets.push(offset);
        let first = offsets.length === 1;
        for await (const chunk of real.read(file, offset)) {
          if (first) {
            // The first read breaks off mid-line, 1,000 bytes in.
            yield chunk.subarray(0, 1_000);
            first = false;
            throw new Error('socket hang up');
          }
          yield chunk;
        }
      },
    };
    const summary = await runFilesGateway({
      config,
      from: dir,
      source: cutting,
      ingest: ingestFor(stream),
      clock: systemClock,
    });
    expect(summary).toMatchObject({ files: 1, records: 200, failed: [], stopped: false });
    expect(offsets).toEqual([0, 1_000]);
    const uri = pathToFileURL(join(dir, 'cut.csv')).href;
    const rows = await landed(kinesis, stream);
    expect(sources(rows)).toEqual(Array.from({ length: 200 }, (_, i) => `${uri}#line ${i + 2}`));
    const lines = csv('dev-x', 200).trimEnd().split('\n');
    expect(payloads(rows)).toEqual(lines.slice(1).map((l) => `${lines[0]}\n${l}`));
  });

  it('after a kill -9 the next run resumes at the last progress write: at least once, one replayed run', async () => {
    const dir = tempDir('kill');
    writeFileSync(join(dir, 'long.csv'), csv('dev-k', 3_000));
    const stream = await newStream('files-kill');
    const config = { ...CSV_CONFIG, progressIntervalMs: 100 };
    // A slow gateway in its own process: small buffer, small aggregates, so the kill lands mid-file.
    const script = `
      import { durableIngest } from './gateways/ingest/durableIngest.ts';
      import { filesGatewayConfigSchema, runFilesGateway } from './gateways/files/index.ts';
      import { createKinesisClient } from './sources/kinesis/client.ts';
      import { systemClock } from './topology/index.ts';
      const client = createKinesisClient({ region: 'us-east-1', endpoint: ${JSON.stringify(kinesisEndpoint)} });
      const ingest = durableIngest({ client, streamName: ${JSON.stringify(stream)}, clock: systemClock,
        limits: { lingerMs: 10, maxBufferedRecords: 50, aggregateBytes: 2_000 } });
      await runFilesGateway({ config: filesGatewayConfigSchema.parse(${JSON.stringify(config)}),
        from: ${JSON.stringify(dir)}, ingest, clock: systemClock });`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const progressFile = join(dir, '.shardflow-progress', 'long.csv.json');
    const written = () => {
      try {
        return (JSON.parse(readFileSync(progressFile, 'utf8')) as { records: number }).records;
      } catch {
        return 0;
      }
    };
    await waitFor('the child to write progress past 200 records', () => written() > 200, 60_000);
    // Let more records land after that write, then kill between two writes.
    await new Promise((r) => setTimeout(r, 150));
    child.kill('SIGKILL');
    await exited;
    const atKill = written();
    // A request the child sent before it died may still be put: read once the stream stops growing.
    let beforeRerun = await landed(kinesis, stream);
    for (;;) {
      await new Promise((r) => setTimeout(r, 200));
      const again = await landed(kinesis, stream);
      if (again.length === beforeRerun.length) break;
      beforeRerun = again;
    }
    expect(atKill).toBeGreaterThan(200);
    expect(atKill).toBeLessThan(1_500);
    expect(beforeRerun.length).toBeGreaterThanOrEqual(atKill);

    const ingest = ingestFor(stream);
    const summary = await runFilesGateway({
      config: filesGatewayConfigSchema.parse(config),
      from: dir,
      ingest,
      clock: systemClock,
    });
    expect(summary).toMatchObject({ files: 1, records: 3_000 - atKill, failed: [], stopped: false });
    const uri = pathToFileURL(join(dir, 'long.csv')).href;
    const expected = Array.from({ length: 3_000 }, (_, i) => `${uri}#line ${i + 2}`);
    // What the killed run put, then everything from the last progress write on: the records between
    // the write and the kill are in the stream twice, nothing is missing, each run in file order.
    expect(sources(await landed(kinesis, stream))).toEqual([
      ...expected.slice(0, beforeRerun.length),
      ...expected.slice(atKill),
    ]);
  });

  it('through 20 % entry failures, throttles and a stall: every record once, in order, the buffer bounded', async () => {
    const dir = tempDir('faults');
    const files = ['f1.bin', 'f2.bin', 'f3.bin'].map((name) => ({ name, ...dump(name, 2_000) }));
    for (const f of files) writeFileSync(join(dir, f.name), f.bytes);
    const stream = await newStream('files-faults');
    const viaProxy = createKinesisClient({ region: 'us-east-1', endpoint: proxy.endpoint });
    const maxBufferedRecords = 300;
    const ingest = ingestFor(stream, viaProxy, { maxBufferedRecords });
    const config = filesGatewayConfigSchema.parse({
      framing: { kind: 'length-prefix', lengthBytes: 2 },
      concurrency: 3,
      progressIntervalMs: 100,
    });

    proxy.set({ entryFailureRate: 0.2, throttleRate: 0.2 });
    let maxBuffered = 0;
    let stalledAt = -1;
    let recordsAtStall = 0;
    const sampler = setInterval(() => {
      const stats = ingest.stats();
      maxBuffered = Math.max(maxBuffered, stats.bufferedRecords);
      if (stalledAt < 0 && stats.recordsPut > 600) {
        stalledAt = Date.now();
        recordsAtStall = stats.recordsPut;
        proxy.set({ stalled: true });
      }
    }, 2);
    const running = runFilesGateway({ config, from: dir, ingest, clock: systemClock });
    await new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (stalledAt > 0 && Date.now() - stalledAt > 1_500) {
          clearInterval(check);
          resolve();
        }
      }, 20);
    });
    // Stalled: the gateway stopped reading at the buffer's bound and put nothing more.
    const during = ingest.stats();
    expect(during.bufferedRecords).toBeGreaterThan(0);
    expect(during.bufferedRecords).toBeLessThanOrEqual(maxBufferedRecords);
    expect(during.recordsPut).toBeLessThan(recordsAtStall + maxBufferedRecords + 50);
    expect(proxy.stats().stalledRequests).toBeGreaterThan(0);
    proxy.set({ stalled: false });

    const summary = await running;
    clearInterval(sampler);
    proxy.set({ entryFailureRate: 0, throttleRate: 0 });
    viaProxy.destroy();
    expect(summary).toMatchObject({ files: 3, records: 6_000, failed: [], stopped: false });
    expect(maxBuffered).toBeLessThanOrEqual(maxBufferedRecords);
    expect(proxy.stats().entriesFailed).toBeGreaterThan(0);
    expect(proxy.stats().throttled).toBeGreaterThan(0);

    const rows = await landed(kinesis, stream);
    expect(rows).toHaveLength(6_000);
    for (const f of files) {
      const uri = pathToFileURL(join(dir, f.name)).href;
      const mine = rows.filter((r) => r.partitionKey === `file:${uri}`);
      expect(mine.map((r) => Buffer.from(r.envelope.payload, 'base64'))).toEqual(f.frames);
    }
  });
});
