/**
 * A YAML document kept with its line table, so that a problem found in its parsed value (by a zod
 * schema or by a later check) can be reported at the line of the node it concerns. Shared by the
 * loaders of specs, rulesets and formulas, with the listing of a directory's YAML files.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type Document, LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';

/** A problem in a YAML file: where it is and what is wrong. */
export interface FileProblem {
  readonly file: string;
  readonly line: number;
  readonly message: string;
}

/** A parsed YAML file that can locate the lines of its nodes. */
export interface YamlSource {
  readonly file: string;
  /** The document as plain data. */
  readonly value: unknown;
  /** The line (1-based) of the deepest node of `path` that exists in the file. */
  lineOf(path: readonly PropertyKey[]): number;
  /** A problem at the node of `path`. */
  problemAt(path: readonly PropertyKey[], message: string): FileProblem;
}

/** Parses a YAML file's text; a syntax error gives problems instead of a source. */
export function parseYamlSource(
  file: string,
  text: string,
): { source: YamlSource; problems?: undefined } | { source?: undefined; problems: FileProblem[] } {
  const lines = new LineCounter();
  const doc: Document = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  if (doc.errors.length > 0) {
    return {
      problems: doc.errors.map((e) => ({
        file,
        line: lines.linePos(e.pos[0]).line,
        message: `not valid YAML: ${e.message}`,
      })),
    };
  }
  const lineOf = (path: readonly PropertyKey[]): number => {
    for (let depth = path.length; depth >= 0; depth--) {
      const node = doc.getIn(path.slice(0, depth) as (string | number)[], true) as
        | { range?: [number] }
        | undefined;
      if (node?.range) return lines.linePos(node.range[0]).line;
    }
    return 1;
  };
  return {
    source: {
      file,
      value: doc.toJS(),
      lineOf,
      problemAt: (path, message) => ({ file, line: lineOf(path), message }),
    },
  };
}

/** A zod issue in words: the key's path and the problem. */
export function describeIssue(issue: z.core.$ZodIssue): string {
  const path = issue.path.map(String).join('.') || '(top level)';
  if (issue.code === 'unrecognized_keys')
    return `${path}: unknown key ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  return `${path}: ${issue.message}`;
}

/**
 * A union's issue as the issues of the one alternative the value was meant to be, when its keys tell
 * (a union of objects with strict keys, such as `{ shadow: … } | { firmware: … }`): "within: expected
 * a duration" at the node rather than "Invalid input" at the union. Otherwise the issue as it is.
 */
function resolveUnion(issue: z.core.$ZodIssue): z.core.$ZodIssue[] {
  if (issue.code !== 'invalid_union' || issue.errors.length === 0) return [issue];
  const meant = issue.errors.filter(
    (branch) => !branch.some((i) => i.code === 'unrecognized_keys' && i.path.length === 0),
  );
  if (meant.length !== 1) return [issue];
  return meant[0]!.flatMap((i) =>
    resolveUnion({ ...i, path: [...issue.path, ...i.path] } as z.core.$ZodIssue),
  );
}

/** Validates a source's value with a schema; each issue becomes a problem at its node's line. */
export function parseWithSchema<T>(
  source: YamlSource,
  schema: z.ZodType<T>,
): { value: T; problems?: undefined } | { value?: undefined; problems: FileProblem[] } {
  const result = schema.safeParse(source.value, { reportInput: true });
  if (result.success) return { value: result.data };
  return {
    problems: result.error.issues
      .flatMap(resolveUnion)
      .map((issue) => source.problemAt(issue.path, describeIssue(issue))),
  };
}

/** The YAML files among `paths`: files as given, directories' `*.yaml` / `*.yml` files (not recursive). */
export function yamlFilesOf(paths: readonly string[]): string[] {
  const files: string[] = [];
  for (const path of paths) {
    if (!statSync(path).isDirectory()) {
      files.push(path);
      continue;
    }
    const names = readdirSync(path)
      .filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'))
      .sort();
    files.push(...names.map((name) => join(path, name)));
  }
  return files;
}
