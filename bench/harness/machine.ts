/**
 * What a result says about where it ran: the machine, the Node version, the commit; and the CPU
 * time of other processes (the emulators, the producer, PostgreSQL and Redis) read from `/proc`.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';

/** The machine and code a result was measured on. */
export interface MachineInfo {
  readonly cpuModel: string;
  readonly cpus: number;
  readonly memoryGiB: number;
  readonly node: string;
  readonly os: string;
  /** Load average over 1, 5 and 15 minutes when the run started (a shared machine's noise). */
  readonly loadAverage: readonly number[];
  readonly commit: string;
  /** The working tree had uncommitted changes. */
  readonly dirty: boolean;
}

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

/** Describes this machine and the commit checked out. */
export function machineInfo(): MachineInfo {
  return {
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    cpus: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    os: `${process.platform} ${release()}`,
    loadAverage: loadavg().map((l) => Math.round(l * 100) / 100),
    commit: git(['rev-parse', 'HEAD']) || 'unknown',
    // RESULTS.md is what the benchmarks themselves rewrite: a run after another is not "dirty" for it
    dirty: git(['status', '--porcelain', '--untracked-files=no', '--', '.', ':!bench/RESULTS.md']) !== '',
  };
}

let ticksPerSecond: number | undefined;

/** CPU seconds (user + system) a process has used, from `/proc/<pid>/stat`; undefined if unreadable. */
export function processCpuSeconds(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses: fields are counted after its last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  ticksPerSecond ??= clockTicks();
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
}

function clockTicks(): number {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return n > 0 ? n : 100;
  } catch {
    return 100;
  }
}

/** CPU seconds this process has used. */
export function ownCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** Busy and total CPU time of the whole machine so far (seconds, summed over its cores), from /proc/stat. */
export function machineCpuSeconds(): { busy: number; total: number } | undefined {
  let stat: string;
  try {
    stat = readFileSync('/proc/stat', 'utf8');
  } catch {
    return undefined;
  }
  const fields = stat.split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0); // idle + iowait
  ticksPerSecond ??= clockTicks();
  return { busy: (total - idle) / ticksPerSecond, total: total / ticksPerSecond };
}

function statFields(pid: number | string): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/**
 * CPU seconds of a process and all its descendants (a PostgreSQL postmaster and its backends): the
 * live ones' own time plus the time of children already reaped (the root's cutime and cstime).
 */
export function processTreeCpuSeconds(root: number): number | undefined {
  const rootFields = statFields(root);
  if (rootFields === undefined) return undefined;
  ticksPerSecond ??= clockTicks();
  const parents = new Map<number, number>();
  const own = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const f = statFields(entry);
    if (f === undefined) continue;
    parents.set(Number(entry), Number(f[1]));
    own.set(Number(entry), Number(f[11]) + Number(f[12]));
  }
  const inTree = (pid: number): boolean => {
    for (let p = pid, hops = 0; p > 1 && hops < 64; p = parents.get(p) ?? 0, hops++)
      if (p === root) return true;
    return false;
  };
  let ticks = Number(rootFields[13]) + Number(rootFields[14]);
  for (const [pid, t] of own) if (inTree(pid)) ticks += t;
  return ticks / ticksPerSecond;
}

/** The first process whose command line (arguments joined by spaces) `matches`; undefined when none. */
export function findProcess(matches: (commandLine: string) => boolean): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let line: string;
    try {
      line = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\u0000', ' ').trim();
    } catch {
      continue;
    }
    if (matches(line)) return Number(entry);
  }
  return undefined;
}
