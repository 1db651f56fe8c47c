/**
 * `specs test --cases FILE` and `specs test DIR`: runs case files (`*.cases.yaml`, see
 * `specs/cases.ts`) against the specs of their directory (or `--spec-dir`), all in this process, and
 * prints one table row per case, with the differing fields under a failed one. The decoder's clock
 * for a case is the case's `now`, else its file's, else `--now`, else the current time.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { REASON_CODES } from '../../operators/decode/errors.ts';
import { SpecRegistry } from '../../operators/decode/registry.ts';
import { epochMsOf, isCaseFileName, type LoadedCaseFile, parseCaseFile } from '../../specs/cases.ts';
import type { FileProblem } from '../../specs/yamlSource.ts';
import { errorMessage } from '../../topology/logger.ts';
import { EXIT } from '../exitCodes.ts';
import { caseDifferences, type Difference, outcomeSummary } from './specCaseCheck.ts';
import { decodeTestFrame, type FrameOutcome } from './specFrames.ts';

/** What to run. */
export interface CaseRunOptions {
  /** Case files, each run against the specs of its own directory unless `specDir` is given. */
  readonly files: readonly string[];
  readonly specDir?: string;
  /** The clock (epoch ms) for cases whose file sets none. */
  readonly now?: number;
}

/** The case files of a directory, sorted. */
export function caseFilesOf(dir: string): string[] {
  return readdirSync(dir)
    .filter(isCaseFileName)
    .sort()
    .map((name) => join(dir, name));
}

interface CaseResult {
  readonly name: string;
  readonly line: number;
  readonly summary: string;
  readonly differences: readonly Difference[];
}

function frameBytes(c: LoadedCaseFile['cases']['cases'][number]): Buffer {
  return c.hex !== undefined ? Buffer.from(c.hex.replace(/\s/g, ''), 'hex') : Buffer.from(c.text!, 'utf8');
}

function runFile(loaded: LoadedCaseFile, registry: SpecRegistry, fallbackNow: number): CaseResult[] {
  return loaded.cases.cases.map((c, i) => {
    const at = c.now ?? loaded.cases.now;
    const now = at === undefined ? fallbackNow : epochMsOf(at);
    let outcome: FrameOutcome;
    try {
      outcome = decodeTestFrame(
        registry,
        {
          payload: frameBytes(c),
          product: c.product,
          topic: c.topic,
          protocol: c.protocol,
          source: c.source,
          receivedAt: c.receivedAt === undefined ? undefined : epochMsOf(c.receivedAt),
          partitionKey: c.partitionKey,
        },
        now,
      );
    } catch (error) {
      // not a dead letter: the decoder itself failed, which would stop a worker
      const got = `the decoder threw: ${errorMessage(error)}`;
      return {
        name: c.name,
        line: loaded.lineOf(i),
        summary: 'error',
        differences: [{ field: 'outcome', expected: 'telemetry or a dead letter', got }],
      };
    }
    return {
      name: c.name,
      line: loaded.lineOf(i),
      summary: outcomeSummary(outcome),
      differences: caseDifferences(c, outcome),
    };
  });
}

function printFile(file: string, results: readonly CaseResult[]): void {
  console.log(file);
  const width = Math.max(...results.map((r) => r.name.length));
  for (const r of results) {
    const status = r.differences.length === 0 ? 'pass' : 'FAIL';
    console.log(`  ${status}  ${r.name.padEnd(width)}  ${r.summary}`);
    if (r.differences.length === 0) continue;
    console.log(`        at ${file}:${r.line}`);
    for (const d of r.differences) console.log(`        ${d.field}: expected ${d.expected}, got ${d.got}`);
  }
}

/** Runs the case files; returns the exit code (2 a bad case or spec file, 1 a failed case, else 0). */
export function runCaseFiles(options: CaseRunOptions): number {
  const fallbackNow = options.now ?? Date.now();
  const registries = new Map<string, SpecRegistry>();
  const problems: FileProblem[] = [];
  const registryFor = (dir: string): SpecRegistry => {
    let registry = registries.get(dir);
    if (registry === undefined) {
      registry = new SpecRegistry(dir);
      problems.push(...registry.load());
      registries.set(dir, registry);
    }
    return registry;
  };
  let passed = 0;
  let failed = 0;
  for (const file of options.files) {
    const parsed = parseCaseFile(file, readFileSync(file, 'utf8'), REASON_CODES);
    if (parsed.problems) {
      problems.push(...parsed.problems);
      continue;
    }
    const results = runFile(parsed.loaded, registryFor(options.specDir ?? dirname(file)), fallbackNow);
    printFile(file, results);
    for (const r of results) r.differences.length === 0 ? passed++ : failed++;
  }
  for (const p of problems) console.log(`error ${p.file}:${p.line}  ${p.message}`);
  const files = options.files.length;
  console.log(
    `${passed + failed} cases in ${files} file${files === 1 ? '' : 's'}: ${passed} passed, ${failed} failed` +
      (problems.length > 0
        ? `; ${problems.length} problem${problems.length === 1 ? '' : 's'} in the files`
        : ''),
  );
  if (problems.length > 0) return EXIT.usage;
  return failed > 0 ? EXIT.failed : EXIT.done;
}
