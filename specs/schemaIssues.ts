/**
 * zod's issues in an author's words, for every YAML language (specs, case files, rulesets, formulas,
 * response policies): the value found, what is allowed there, and the schema's own description of
 * the key as a hint. zod's stock messages ("Invalid input", "Invalid key in record") say neither;
 * a message the schema gives itself (a pattern's "a field name: …") is kept as it is.
 */
import type { z } from 'zod';

type RawIssue = z.core.$ZodRawIssue;
type Issue = z.core.$ZodIssue;
type Schema = z.core.$ZodType;

/** A value as it reads in the file: strings quoted, short structures inline. */
function shown(value: unknown): string {
  const text = JSON.stringify(value);
  if (text === undefined) return String(value);
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
}

const KINDS: Readonly<Record<string, string>> = {
  object: 'a mapping (key: value)',
  array: 'a list',
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
};

/** What a value's kind is called. */
function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return shown(value);
}

function bound(issue: { minimum?: unknown; maximum?: unknown; inclusive?: boolean; origin: string }) {
  const small = 'minimum' in issue;
  const limit = String(small ? issue.minimum : issue.maximum);
  const inclusive = issue.inclusive !== false;
  if (issue.origin === 'number' || issue.origin === 'int' || issue.origin === 'bigint')
    return `must be ${small ? (inclusive ? 'at least' : 'more than') : inclusive ? 'at most' : 'less than'} ${limit}`;
  const unit = issue.origin === 'string' ? 'characters' : issue.origin === 'array' ? 'entries' : 'keys';
  return `needs ${small ? 'at least' : 'at most'} ${limit} ${unit}`;
}

/**
 * The message of an issue zod made without one from the schema (pass as the parse's `error`; a
 * schema's own messages take precedence).
 */
export function issueMessage(issue: RawIssue): string | undefined {
  const input = issue.input;
  switch (issue.code) {
    case 'invalid_type':
      if (input === undefined) return `missing: expected ${KINDS[issue.expected] ?? issue.expected}`;
      return `expected ${KINDS[issue.expected] ?? issue.expected}, found ${kindOf(input)}`;
    case 'invalid_value':
      if (issue.values.length === 1) return `${shown(input)} is not allowed: only ${shown(issue.values[0])}`;
      return `${shown(input)} is not allowed: one of ${issue.values.map((v) => String(v)).join(', ')}`;
    case 'too_small':
    case 'too_big':
      return `${shown(input)} ${bound(issue as Parameters<typeof bound>[0])}`;
    case 'invalid_format':
      return `${shown(input)} is not ${issue.format === 'regex' ? `of the form ${issue.pattern}` : `a ${issue.format}`}`;
    case 'not_multiple_of':
      return `${shown(input)} must be a multiple of ${String(issue.divisor)}`;
    case 'invalid_union':
      if ('discriminator' in issue && Array.isArray(issue.options))
        return `${shown((input as Record<string, unknown> | undefined)?.[issue.discriminator as string])} is not allowed: one of ${issue.options.map(String).join(', ')}`;
      return undefined;
    default:
      return undefined;
  }
}

/** The schema inside the wrappers that add nothing to a key's place (optional, default, a pipe's input). */
function unwrapped(schema: Schema): Schema[] {
  const def = schema._zod.def as unknown as Record<string, unknown> & { type: string };
  switch (def.type) {
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'readonly':
    case 'catch':
    case 'nonoptional':
      return [schema, ...unwrapped(def.innerType as Schema)];
    case 'pipe':
      return [schema, ...unwrapped(def.in as Schema)];
    case 'lazy':
      return [schema, ...unwrapped((def.getter as () => Schema)())];
    default:
      return [schema];
  }
}

/** The schemas a key's path may lead to (a union may lead to several). */
function schemasAt(schema: Schema, path: readonly PropertyKey[]): Schema[][] {
  const chain = unwrapped(schema);
  const inner = chain[chain.length - 1]!;
  const def = inner._zod.def as unknown as Record<string, unknown> & { type: string };
  if (path.length === 0)
    return def.type === 'union'
      ? [chain, ...(def.options as Schema[]).flatMap((option) => schemasAt(option, path))]
      : [chain];
  const [key, ...rest] = path;
  switch (def.type) {
    case 'object': {
      const shape = def.shape as Record<string, Schema>;
      const catchall = def.catchall as Schema | undefined;
      const next =
        typeof key === 'string' && Object.hasOwn(shape, key)
          ? shape[key]
          : catchall?._zod.def.type === 'never'
            ? undefined
            : catchall;
      return next ? schemasAt(next, rest) : [];
    }
    case 'array':
      return schemasAt(def.element as Schema, rest);
    case 'record':
      return schemasAt(def.valueType as Schema, rest);
    case 'union':
      return (def.options as Schema[]).flatMap((option) => schemasAt(option, path));
    case 'intersection':
      return [...schemasAt(def.left as Schema, path), ...schemasAt(def.right as Schema, path)];
    default:
      return [];
  }
}

/** The schema's description of the key at `path`, if it has one. */
function hintAt(schema: Schema, path: readonly PropertyKey[]): string | undefined {
  for (const chain of schemasAt(schema, path))
    for (const node of chain) {
      const description = (node as { description?: string }).description;
      if (description) return description;
    }
  return undefined;
}

/**
 * The description of the union or record at `path`: a key of one of a union's forms, or a record's
 * entry, often has none of its own (`columns: field → column name or index`).
 */
function containerHintAt(schema: Schema, path: readonly PropertyKey[]): string | undefined {
  const chain = schemasAt(schema, path).find((c) =>
    ['union', 'record'].includes(c[c.length - 1]!._zod.def.type),
  );
  if (!chain) return undefined;
  return chain.map((node) => (node as { description?: string }).description).find(Boolean);
}

/** The keys the mapping at `path` may have. */
function keysAt(schema: Schema, path: readonly PropertyKey[]): string[] {
  const keys = new Set<string>();
  for (const chain of schemasAt(schema, path)) {
    const def = chain[chain.length - 1]!._zod.def as unknown as { type: string; shape?: object };
    if (def.type === 'object' && def.shape) for (const key of Object.keys(def.shape)) keys.add(key);
  }
  return [...keys];
}

/**
 * A union's issue as the issues of the one alternative the value was meant to be, when its keys
 * tell (a union of objects with strict keys, such as `{ shadow: … } | { firmware: … }`): "within:
 * expected a duration" at the node rather than "Invalid input" at the union. When every alternative
 * refuses the same key's value (`from: payload` where `topic`, `field` and `envelope` are allowed),
 * one issue listing every allowed value. Otherwise the issue as it is.
 */
export function resolveUnion(issue: Issue): Issue[] {
  if (issue.code !== 'invalid_union' || issue.errors.length === 0) return [issue];
  const sameKey = sharedValueIssue(issue);
  if (sameKey) return [sameKey];
  const meant = issue.errors.filter(
    (branch) => !branch.some((i) => i.code === 'unrecognized_keys' && i.path.length === 0),
  );
  if (meant.length !== 1) return [issue];
  return meant[0]!.flatMap((i) => resolveUnion({ ...i, path: [...issue.path, ...i.path] } as Issue));
}

/** When every alternative refuses the same key's value: one issue with every value allowed there. */
function sharedValueIssue(issue: Issue & { code: 'invalid_union' }): Issue | undefined {
  const refusals = issue.errors.map((branch) =>
    branch.find((i): i is Issue & { code: 'invalid_value' } => i.code === 'invalid_value'),
  );
  const first = refusals[0];
  if (first === undefined) return undefined;
  const at = first.path.map(String).join('.');
  if (!refusals.every((i) => i?.path.map(String).join('.') === at)) return undefined;
  const values = refusals.flatMap((i) => i?.values ?? []);
  const merged = { ...first, values, path: [...issue.path, ...first.path] } as Issue & {
    code: 'invalid_value';
  };
  return { ...merged, message: issueMessage(merged as unknown as RawIssue) ?? first.message };
}

/** What the alternatives of an unresolved union expected, as one sentence. */
function unionMessage(issue: Issue & { code: 'invalid_union' }): string {
  const kinds = issue.errors.map((branch) => {
    const root = branch.find((i) => i.path.length === 0);
    return root?.code === 'invalid_type' ? (KINDS[root.expected] ?? root.expected) : undefined;
  });
  const found = kindOf(issue.input);
  if (kinds.every((k) => k !== undefined))
    return `expected ${[...new Set(kinds)].join(' or ')}, found ${found}`;
  const forms = issue.errors.map((branch) =>
    branch
      .map((i) => (i.path.length > 0 ? `${i.path.map(String).join('.')}: ${i.message}` : i.message))
      .join(', '),
  );
  return `${found} fits none of the ${forms.length} forms allowed here (${forms.map((f, n) => `${n + 1}: ${f}`).join('; ')})`;
}

/** One issue in words: the key's path, the problem, what is allowed, and the schema's hint. */
export function describeIssue(issue: Issue, schema: Schema): string {
  const path = issue.path.map(String).join('.') || '(top level)';
  let problem = issue.message;
  if (issue.code === 'unrecognized_keys') {
    const allowed = keysAt(schema, issue.path);
    problem = `unknown key ${issue.keys.map((k) => `"${k}"`).join(', ')}${allowed.length > 0 ? `; allowed: ${allowed.join(', ')}` : ''}`;
  } else if (issue.code === 'invalid_key') {
    problem = `key ${shown(issue.path[issue.path.length - 1])} is not allowed: ${issue.issues.map((i) => i.message).join('; ')}`;
  } else if (issue.code === 'invalid_union' && !('discriminator' in issue) && problem === 'Invalid input') {
    problem = unionMessage(issue);
  }
  const hint =
    issue.code === 'unrecognized_keys'
      ? hintAt(schema, issue.path)
      : (hintAt(schema, issue.path) ?? containerHintAt(schema, issue.path.slice(0, -1)));
  return hint && !problem.includes(hint) ? `${path}: ${problem} — ${hint}` : `${path}: ${problem}`;
}
