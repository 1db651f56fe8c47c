/**
 * `shardflow bench …`: the benchmark harness (bench/harness/main.ts), run in a process of its own.
 * Production code does not import bench/ (the import rule keeps the worker's module graph free of
 * it), so the command hands its arguments over to the harness's entry point, with the TypeScript
 * loader, and exits with its code. `shardflow bench run --help` prints the harness's options.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';

const HARNESS = fileURLToPath(new URL('../../bench/harness/main.ts', import.meta.url));

/** Runs the harness with `args`; resolves with its exit code. */
function runBenchHarness(args: readonly string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', HARNESS, ...args], { stdio: 'inherit' });
    const forward = (signal: NodeJS.Signals) => child.kill(signal);
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
      resolve(code ?? (signal ? 1 : 0));
    });
  });
}

/** Adds `bench run|workloads` to the program. */
export function registerBenchCommand(program: Command): void {
  program
    .command('bench')
    .description(
      'benchmark the topology: `bench run --workload W [--mode M] [--sweep knob=v1,v2]`, `bench workloads`',
    )
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument('[args...]', 'passed to the harness; `bench run --help` lists its options')
    .action(async (args: string[]) => {
      process.exitCode = await runBenchHarness(args.length === 0 ? ['--help'] : args);
    });
}
