/**
 * A YAML document kept with its line table, so that a problem found in its parsed value (by a zod
 * schema or by a later check) can be reported at the line of the key it concerns, in the words of
 * `schemaIssues.ts`. Shared by the loaders of specs, case files, rulesets, formulas and response
 * policies, with the listing of a directory's YAML files.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type Document, isMap, isScalar, LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { describeIssue, issueMessage, resolveUnion } from './schemaIssues.ts';

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
  /** The line (1-based) of the deepest node of `path` that exists in the file (of its key, in a mapping). */
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
      const keyLine = depth > 0 ? lineOfKey(path.slice(0, depth - 1), path[depth - 1]!) : undefined;
      if (keyLine !== undefined) return keyLine;
      const node = doc.getIn(path.slice(0, depth) as (string | number)[], true) as
        | { range?: [number] }
        | undefined;
      if (node?.range) return lines.linePos(node.range[0]).line;
    }
    return 1;
  };
  // a mapping's key is where an author looks for it: a block value starts on the next line
  const lineOfKey = (parent: readonly PropertyKey[], key: PropertyKey): number | undefined => {
    const map = parent.length === 0 ? doc.contents : doc.getIn(parent as (string | number)[], true);
    if (!isMap(map)) return undefined;
    const pair = map.items.find((p) => isScalar(p.key) && String(p.key.value) === String(key));
    const range = (pair?.key as { range?: [number] } | undefined)?.range;
    return range ? lines.linePos(range[0]).line : undefined;
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

/** Validates a source's value with a schema; each issue becomes a problem at its key's line. */
export function parseWithSchema<T>(
  source: YamlSource,
  schema: z.ZodType<T>,
): { value: T; problems?: undefined } | { value?: undefined; problems: FileProblem[] } {
  const result = schema.safeParse(source.value, { reportInput: true, error: issueMessage });
  if (result.success) return { value: result.data };
  return {
    problems: result.error.issues.flatMap(resolveUnion).flatMap((issue) =>
      // an unknown key is reported at its own line, one problem per key
      issue.code === 'unrecognized_keys'
        ? issue.keys.map((key) =>
            source.problemAt([...issue.path, key], describeIssue({ ...issue, keys: [key] }, schema)),
          )
        : [source.problemAt(issue.path, describeIssue(issue, schema))],
    ),
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
