/** Runs the real `shardflow` command in a child process, as a user would. */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * Time budget for a test that starts the command in child processes. Each start compiles the
 * TypeScript sources (about 2.5 s on an idle 2-core machine, several times that while the other test
 * files run beside it), so the unit project's 20 s default fails such a test under load.
 */
export const CLI_TEST_TIMEOUT_MS = 120_000;

const BIN = fileURLToPath(new URL('../../bin/shardflow.js', import.meta.url));

/** What a finished command printed and how it exited. */
export interface CliResult {
  readonly code: number | null;
  /** The signal that ended it, if one did. */
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A running `shardflow` process. */
export interface RunningCli {
  readonly child: ChildProcess;
  /** What it has written to stderr so far. */
  stderr(): string;
  /** Resolves when it exits. */
  readonly exited: Promise<CliResult>;
}

/** Starts `shardflow ...args` without waiting for it; it is killed after `timeoutMs`. */
export function startCli(
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
  timeoutMs = 120_000,
): RunningCli {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: 'pipe' });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const exited = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return { child, stderr: () => stderr, exited };
}

/** Runs `shardflow ...args` and waits for it to exit. */
export function runCli(
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
  timeoutMs = 120_000,
): Promise<CliResult> {
  return startCli(args, env, timeoutMs).exited;
}

/** A worker configuration for the commands that only need the Warm store at `warmUrl`. */
export function warmOnlyConfig(warmUrl: string): string {
  return `source:\n  kinesis:\n    streamName: unused\n    endpoint: http://127.0.0.1:1\nwarm:\n  writeUrl: ${warmUrl}\n`;
}
