/** s3rver, a real S3-compatible server, in a process of its own (its paged listing needs the legacy OpenSSL provider). */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** A running s3rver. */
export interface RunningS3rver {
  /** `http://127.0.0.1:P` */
  readonly endpoint: string;
  readonly child: ChildProcess;
  stop(): void;
}

/** The credentials s3rver accepts. */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

/** Starts s3rver on a loopback port over `directory`, with `buckets` made. */
export async function startS3rver(
  directory: string,
  buckets: readonly string[] = [],
): Promise<RunningS3rver> {
  const script = `
    const S3rver = require('s3rver');
    new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: ${JSON.stringify(directory)},
      configureBuckets: ${JSON.stringify(buckets.map((name) => ({ name })))} })
      .run().then((a) => console.log(JSON.stringify(a)), (e) => { console.error(e); process.exit(1); });`;
  const cwd = fileURLToPath(new URL('../..', import.meta.url));
  const child = spawn(process.execPath, ['--openssl-legacy-provider', '-e', script], {
    cwd,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((resolve, reject) => {
    child.stdout!.once('data', (chunk: Buffer) => resolve(chunk.toString()));
    child.once('exit', (code) => reject(new Error(`s3rver exited with ${code}`)));
  });
  const { port } = JSON.parse(line) as { port: number };
  return { endpoint: `http://127.0.0.1:${port}`, child, stop: () => void child.kill() };
}
