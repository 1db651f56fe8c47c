import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';

/** A server child process started by {@link spawnServer}. */
export interface ServerProcess {
  readonly child: ChildProcess;
  /** Last few KB of the child's stdout+stderr, for error messages. */
  output(): string;
  /** Resolves when the child has exited (immediately if it already has). */
  exited(): Promise<void>;
  /** Sends `signal`, waits up to `timeoutMs`, then SIGKILLs. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<void>;
}

/** Returns a TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('could not get a free port'))));
    });
  });
}

/** Full path of `name`, looked up on PATH then in `extraDirs`; throws an install hint when absent. */
export function findBinary(name: string, extraDirs: string[] = []): string {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean), ...extraDirs];
  for (const dir of dirs) {
    const candidate = path.join(dir, name);
    if (existsSync(candidate)) return candidate;
  }
  throw new Error(`${name} not found on PATH: run \`bash scripts/install-deps.sh\``);
}

/** Debian keeps PostgreSQL binaries off PATH, in /usr/lib/postgresql/<version>/bin (newest first). */
export function postgresBinDirs(): string[] {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .sort((a, b) => Number(b) - Number(a))
    .map((version) => path.join(root, version, 'bin'));
}

// Synchronous cleanups run on process exit, so a test run that ends without teardown leaves no servers.
const exitCleanups = new Set<() => void>();
let exitHookInstalled = false;

/** Registers `fn` to run synchronously at process exit; returns a function that unregisters it. */
export function onProcessExit(fn: () => void): () => void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const cleanup of exitCleanups) {
        try {
          cleanup();
        } catch {
          // Best effort: the process is going away anyway.
        }
      }
    });
  }
  exitCleanups.add(fn);
  return () => exitCleanups.delete(fn);
}

/** Options for {@link spawnServer}. */
export interface SpawnOptions {
  cwd?: string;
  /** Run as this OS user (needs root), e.g. `postgres`, which refuses to run as root. */
  user?: { uid: number; gid: number };
}

/**
 * Spawns a long-running server. It goes through `setpriv --pdeathsig KILL` (util-linux), which execs in
 * place: the kernel then kills the server even when this process dies by SIGKILL, and signals we send
 * reach the server itself rather than a wrapper (as `runuser` would be).
 */
export function spawnServer(command: string, args: string[], options: SpawnOptions = {}): ServerProcess {
  const setpriv = findBinary('setpriv');
  const { user } = options;
  const asUser = user ? ['--reuid', String(user.uid), '--regid', String(user.gid), '--init-groups'] : [];
  const child = spawn(setpriv, [...asUser, '--pdeathsig', 'KILL', '--', command, ...args], {
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const keep = (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-4096);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exit = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', (err) => {
      log += `\n${err.message}`;
      resolve();
    });
  });
  const unregister = onProcessExit(() => child.kill('SIGKILL'));
  void exit.then(unregister);
  const hasExited = () => child.exitCode !== null || child.signalCode !== null;
  return {
    child,
    output: () => log,
    exited: () => exit,
    async stop(signal = 'SIGTERM', timeoutMs = 10_000) {
      if (hasExited()) return;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      await exit;
      clearTimeout(timer);
    },
  };
}

/** Runs a command to completion (through setpriv like {@link spawnServer}); rejects with its output on failure. */
export async function run(command: string, args: string[], options: SpawnOptions = {}): Promise<void> {
  const proc = spawnServer(command, args, options);
  await proc.exited();
  if (proc.child.exitCode !== 0) {
    throw new Error(`${path.basename(command)} failed (exit ${proc.child.exitCode}):\n${proc.output()}`);
  }
}

/** Calls `probe` until it resolves, the server exits, or `timeoutMs` passes. */
export async function waitUntilReady(
  name: string,
  server: ServerProcess | undefined,
  probe: () => Promise<void>,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (server && (server.child.exitCode !== null || server.child.signalCode !== null)) {
      throw new Error(`${name} exited during start-up:\n${server.output()}`);
    }
    try {
      await probe();
      return;
    } catch (err) {
      lastError = err;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  throw new Error(`${name} not ready after ${timeoutMs} ms: ${String(lastError)}\n${server?.output() ?? ''}`);
}
