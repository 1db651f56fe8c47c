/**
 * Parquet data files encoded on a thread: the same file and metrics as on the event loop, errors
 * answered per file without losing the thread, and a thread that is closed or dies failing its files
 * rather than leaving them pending.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parquetReadObjects } from 'hyparquet';
import { afterEach, describe, expect, it } from 'vitest';
import { threadParquetWriter } from '../../../../sinks/cold/parquet/threadWriter.ts';
import type { ColdField, ColumnarRows } from '../../../../sinks/cold/parquet/types.ts';
import { writeParquet } from '../../../../sinks/cold/parquet/writer.ts';

const FIELDS: readonly ColdField[] = [
  { id: 1, name: 'device_id', type: 'string', required: true },
  { id: 2, name: 'device_timestamp', type: 'timestamptz', required: true },
  { id: 3, name: 'seq', type: 'long', required: false },
  {
    id: 4,
    name: 'metrics',
    type: { kind: 'map', keyId: 5, valueId: 6, value: 'double' },
    required: false,
  },
];
const T = Date.UTC(2026, 10, 22, 9, 30);
const N = 2000;
const ROWS: ColumnarRows = {
  length: N,
  columns: new Map<number, ArrayLike<unknown>>([
    [1, Array.from({ length: N }, (_, i) => `dev-${i % 37}`)],
    [2, Array.from({ length: N }, (_, i) => T + i * 1000)],
    [3, Array.from({ length: N }, (_, i) => (i % 5 === 0 ? null : 2n ** 40n + BigInt(i)))],
    [4, Array.from({ length: N }, (_, i) => ({ temperature: i / 4, humidity: 40 + (i % 9) }))],
  ]) as ColumnarRows['columns'],
};
const OPTIONS = { compression: 'snappy' as const };

const writers: Array<ReturnType<typeof threadParquetWriter>> = [];
afterEach(async () => {
  for (const w of writers.splice(0)) await w.close();
});

describe('Parquet data files on a thread', () => {
  it('writes the same file, with the same metrics, as writeParquet on the event loop', async () => {
    const writer = threadParquetWriter();
    writers.push(writer);
    const threaded = await writer.write(FIELDS, ROWS, OPTIONS);
    const direct = writeParquet(FIELDS, ROWS, OPTIONS);
    expect(Buffer.from(threaded.bytes).equals(Buffer.from(direct.bytes))).toBe(true);
    expect(threaded.stats).toEqual(direct.stats);
    const read = await parquetReadObjects({
      file: threaded.bytes.buffer.slice(
        threaded.bytes.byteOffset,
        threaded.bytes.byteOffset + threaded.bytes.byteLength,
      ) as ArrayBuffer,
    });
    expect(read).toHaveLength(N);
    expect(read[7]).toMatchObject({ device_id: 'dev-7', seq: 2n ** 40n + 7n });
  });

  it('answers a file it cannot write with its error, and goes on writing the next', async () => {
    const writer = threadParquetWriter();
    writers.push(writer);
    const bad: ColumnarRows = { length: 1, columns: new Map([[99, ['x']]]) };
    await expect(writer.write(FIELDS, bad, OPTIONS)).rejects.toThrow(/unknown field id 99/);
    const ok = await writer.write(FIELDS, ROWS, OPTIONS);
    expect(ok.stats.recordCount).toBe(N);
  });

  it('keeps a process with nothing else to do alive until its file is written', () => {
    const module = pathToFileURL(
      fileURLToPath(new URL('../../../../sinks/cold/parquet/threadWriter.ts', import.meta.url)),
    ).href;
    const dir = mkdtempSync(join(tmpdir(), 'thread-writer-'));
    const file = join(dir, 'one-file.mjs');
    writeFileSync(
      file,
      `const { threadParquetWriter } = await import(${JSON.stringify(module)});
      threadParquetWriter()
        .write([{ id: 1, name: 'a', type: 'string', required: true }], { length: 1, columns: new Map([[1, ['x']]]) }, {})
        .then(({ stats }) => console.log('rows', stats.recordCount));`,
    );
    let out: string;
    try {
      out = execFileSync(process.execPath, ['--import', 'tsx', file], { encoding: 'utf8', timeout: 60_000 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(out.trim()).toBe('rows 1');
  });

  it('fails the files in flight when closed, and starts a new thread for the next file', async () => {
    const writer = threadParquetWriter();
    writers.push(writer);
    const inFlight = writer.write(FIELDS, ROWS, OPTIONS);
    await writer.close();
    await expect(inFlight).rejects.toThrow(/closed|exited/);
    expect((await writer.write(FIELDS, ROWS, OPTIONS)).stats.recordCount).toBe(N);
  });
});
