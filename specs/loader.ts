/**
 * Loads product specs from a directory: every `*.yaml` / `*.yml` file is one spec, validated by the
 * schema, except the example cases beside them (`*.cases.yaml`, see `cases.ts`). A file that is not
 * valid is reported with its path, line and the problem, and left out; the others load.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isCaseFileName } from './cases.ts';
import { type Spec, specSchema } from './schema.ts';
import { type FileProblem, parseWithSchema, parseYamlSource } from './yamlSource.ts';

/** A spec file that could not be used. */
export type SpecProblem = FileProblem;

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

/** Parses and validates one spec file's text. */
export function parseSpec(file: string, text: string): { spec?: Spec; problems: SpecProblem[] } {
  const parsed = parseYamlSource(file, text);
  if (parsed.problems) return { problems: parsed.problems };
  const result = parseWithSchema(parsed.source, specSchema);
  if (result.problems) return { problems: result.problems };
  return { spec: result.value, problems: [] };
}

/** The names of a directory's spec files, sorted: its YAML files but the case files. */
export function specFileNames(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => (f.endsWith('.yaml') || f.endsWith('.yml')) && !isCaseFileName(f))
    .sort();
}

/** Loads every spec file of a directory (not recursive). */
export function loadSpecDirectory(dir: string): SpecDirectory {
  const specs: LoadedSpec[] = [];
  const problems: SpecProblem[] = [];
  for (const name of specFileNames(dir)) {
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
