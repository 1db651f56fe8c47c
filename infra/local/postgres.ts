import { execFileSync } from 'node:child_process';
import { chownSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import {
  findBinary,
  freePort,
  onProcessExit,
  postgresBinDirs,
  run,
  type SpawnOptions,
  spawnServer,
  waitUntilReady,
} from './process.ts';

const DIR_PREFIX = 'shardflow-pg-';
const DATABASE = 'shardflow';

/** A throwaway PostgreSQL cluster in a temp directory, tuned for speed over durability. */
export async function startPostgres(): Promise<{ url: string; stop(): Promise<void> }> {
  const initdb = findBinary('initdb', postgresBinDirs());
  const postgres = findBinary('postgres', [path.dirname(initdb), ...postgresBinDirs()]);
  removeStaleClusters();

  const dir = mkdtempSync(path.join(os.tmpdir(), DIR_PREFIX));
  // Lets a later run remove this directory if our process dies before it can.
  writeFileSync(path.join(dir, 'owner.pid'), String(process.pid));
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  const options: SpawnOptions = { cwd: dir };
  // PostgreSQL refuses to run as root, so as root the cluster belongs to the `postgres` OS user.
  if (process.getuid?.() === 0) {
    options.user = postgresUser();
    chownSync(dir, options.user.uid, options.user.gid);
  }

  const data = path.join(dir, 'data');
  const port = await freePort();
  let server: ReturnType<typeof spawnServer> | undefined;
  const unregister = onProcessExit(() => {
    server?.child.kill('SIGKILL');
    removeDir();
  });
  const stop = async () => {
    await server?.stop('SIGINT'); // SIGINT is PostgreSQL's "fast" shutdown.
    unregister();
    removeDir();
  };
  try {
    await run(
      initdb,
      [
        '-D',
        data,
        '-A',
        'trust',
        '-U',
        'postgres',
        '--no-sync',
        '-E',
        'UTF8',
        '--locale=C',
        '--no-instructions',
      ],
      options,
    );
    server = spawnServer(
      postgres,
      [
        ...['-D', data, '-p', String(port), '-k', dir],
        ...['-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off'],
        ...['-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'],
      ],
      options,
    );
    const admin = `postgres://postgres@127.0.0.1:${port}/postgres`;
    await waitUntilReady('postgres', server, () => query(admin, 'SELECT 1'));
    await query(admin, `CREATE DATABASE ${DATABASE}`);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: `postgres://postgres@127.0.0.1:${port}/${DATABASE}`, stop };
}

async function query(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query(sql);
  } finally {
    await client.end().catch(() => {});
  }
}

function postgresUser(): { uid: number; gid: number } {
  try {
    const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    throw new Error('no `postgres` OS user to run PostgreSQL as: run `bash scripts/install-deps.sh`');
  }
}

/** Removes clusters left behind by runs whose process died (SIGKILL skips exit hooks). */
function removeStaleClusters(): void {
  for (const name of readdirSync(os.tmpdir())) {
    if (!name.startsWith(DIR_PREFIX)) continue;
    const dir = path.join(os.tmpdir(), name);
    try {
      const owner = Number(readFileSync(path.join(dir, 'owner.pid'), 'utf8'));
      if (isAlive(owner)) continue;
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // Not ours to judge (unreadable or half-created): leave it.
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
