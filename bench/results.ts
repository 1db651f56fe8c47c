/**
 * Each benchmark's latest figures in `bench/RESULTS.md`. Run with `--results`, a benchmark rewrites
 * its block, between `<!-- bench:NAME -->` and `<!-- bench:NAME:end -->` at the top of its section:
 * the figures, their ratios to the baseline measured in the same run and to the goal, how to run it
 * again, and the machine, load and commit it ran on. What follows the block in the section (earlier
 * figures and what was learnt from them) is written by hand and kept. The harness's own section is
 * written by `harness/resultsMd.ts`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { machineInfo } from './harness/machine.ts';

/** The load average when the benchmark started (this module is imported before anything runs). */
const START_LOAD = loadavg()[0]!;

/** The RESULTS.md next to this file. */
const RESULTS_PATH = fileURLToPath(new URL('./RESULTS.md', import.meta.url));

/** One benchmark's latest figures. */
export interface LatestFigures {
  /** The marker key (`bench:NAME`). */
  readonly name: string;
  /** The section heading the block goes under, as it stands in RESULTS.md (added at the end when absent). */
  readonly heading: string;
  /** The command that produced the figures. */
  readonly command: string;
  /** The figures: markdown lines (a table, ratio and goal lines). */
  readonly lines: readonly string[];
}

/** The block of `figures`, markers included; `where` describes the machine, load and commit. */
export function latestFiguresBlock(figures: LatestFigures, where: string): string {
  return [
    `<!-- bench:${figures.name} -->`,
    `**Latest** (\`${figures.command}\`; written by the benchmark with \`--results\`): ${where}`,
    '',
    ...figures.lines,
    `<!-- bench:${figures.name}:end -->`,
  ].join('\n');
}

/** `markdown` with `block` (of benchmark `name`) replacing the previous one, or put first in its section. */
export function withLatestFigures(markdown: string, name: string, heading: string, block: string): string {
  const open = `<!-- bench:${name} -->`;
  const close = `<!-- bench:${name}:end -->`;
  const at = markdown.indexOf(open);
  if (at >= 0) {
    const end = markdown.indexOf(close, at);
    if (end < 0) throw new Error(`RESULTS.md: ${open} has no ${close}`);
    return markdown.slice(0, at) + block + markdown.slice(end + close.length);
  }
  const h = markdown.split('\n').indexOf(heading);
  if (h < 0) return `${markdown.trimEnd()}\n\n${heading}\n\n${block}\n`;
  const lines = markdown.split('\n');
  lines.splice(h + 1, 0, '', block);
  return lines.join('\n');
}

/** Where a benchmark ran: the machine, its load at the start and now, the commit, the date. */
function whereItRan(startLoad = START_LOAD, now = new Date()): string {
  const m = machineInfo();
  const commit = `${m.commit.slice(0, 10)}${m.dirty ? ' with uncommitted changes' : ''}`;
  return `${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, Node ${m.node}, load average ${startLoad.toFixed(2)} at the start and ${loadavg()[0]!.toFixed(2)} at the end, commit ${commit}, ${now.toISOString().slice(0, 16).replace('T', ' ')} UTC.`;
}

/** Rewrites the benchmark's block in RESULTS.md (see {@link withLatestFigures}). */
export function writeLatestFigures(figures: LatestFigures, path = RESULTS_PATH): void {
  const block = latestFiguresBlock(figures, whereItRan());
  writeFileSync(path, withLatestFigures(readFileSync(path, 'utf8'), figures.name, figures.heading, block));
  console.log(`RESULTS.md: ${figures.heading.replace(/^#+ /, '')} updated`);
}

/** A whole number with thousands separators. */
export const count = (x: number): string => Math.round(x).toLocaleString('en-US');

/** A ratio with `digits` decimals and whether it meets `goal` (≥), e.g. `0.93 (goal ≥ 0.9: met)`. */
export function ratioToGoal(ratio: number, goal: number | undefined, digits = 2): string {
  if (goal === undefined) return ratio.toFixed(digits);
  return `${ratio.toFixed(digits)} (goal ≥ ${goal}: ${ratio >= goal ? 'met' : 'not met'})`;
}
