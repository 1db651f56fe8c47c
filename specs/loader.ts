/**
 * Loads product specs from a directory: every `*.yaml` / `*.yml` file is one spec, validated by the
 * schema. A file that is not valid is reported with its path, line and the problem, and left out;
 * the others load.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { type Spec, specSchema } from './schema.ts';

/** A spec file that could not be used. */
export interface SpecProblem {
  readonly file: string;
  readonly line: number;
  readonly message: string;
}

/** One valid spec and where it came from. */
export interface LoadedSpec {
  readonly file: string;
  readonly spec: Spec;
  /** Modification time of the file (ms), to notice changes. */
  readonly mtimeMs: number;
}

/** What a directory holds. */
export interface SpecDirectory {
  readonly specs: readonly LoadedSpec[];
  readonly problems: readonly SpecProblem[];
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const path = issue.path.map(String).join('.') || '(top level)';
  if (issue.code === 'unrecognized_keys')
    return `${path}: unknown key ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  return `${path}: ${issue.message}`;
}

/** Parses and validates one spec file's text. */
export function parseSpec(file: string, text: string): { spec?: Spec; problems: SpecProblem[] } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  if (doc.errors.length > 0) {
    return {
      problems: doc.errors.map((e) => ({
        file,
        line: lines.linePos(e.pos[0]).line,
        message: `not valid YAML: ${e.message}`,
      })),
    };
  }
  const result = specSchema.safeParse(doc.toJS(), { reportInput: true });
  if (result.success) return { spec: result.data, problems: [] };
  const problems = result.error.issues.map((issue) => {
    // the line of the deepest node of the issue's path that exists in the file
    let line = 1;
    for (let depth = issue.path.length; depth >= 0; depth--) {
      const node = doc.getIn(issue.path.slice(0, depth) as (string | number)[], true) as
        | { range?: [number] }
        | undefined;
      if (node?.range) {
        line = lines.linePos(node.range[0]).line;
        break;
      }
    }
    return { file, line, message: describeIssue(issue) };
  });
  return { problems };
}

/** Loads every spec file of a directory (not recursive). */
export function loadSpecDirectory(dir: string): SpecDirectory {
  const specs: LoadedSpec[] = [];
  const problems: SpecProblem[] = [];
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'))
    .sort();
  for (const name of files) {
    const file = join(dir, name);
    const parsed = parseSpec(file, readFileSync(file, 'utf8'));
    problems.push(...parsed.problems);
    if (parsed.spec) specs.push({ file, spec: parsed.spec, mtimeMs: statSync(file).mtimeMs });
  }
  const seen = new Map<string, string>();
  for (const { file, spec } of specs) {
    const key = `${spec.id}@${spec.version}`;
    const other = seen.get(key);
    if (other !== undefined)
      problems.push({
        file,
        line: 1,
        message: `spec ${spec.id} version ${spec.version} is also defined in ${other}`,
      });
    seen.set(key, file);
  }
  return { specs, problems };
}
