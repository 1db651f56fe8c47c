/**
 * A formula file as text, from the versions the Warm store keeps (`formulas export`), and the JSON
 * Schema of a formula file (`formulas schema`). The store keeps each entry as authored, in jsonb,
 * which does not keep the order of keys: the export puts them back in the order of the schema, with
 * variables and examples on one line each, so the file reads like one written by hand and loads
 * back as the same versions.
 */
import { Document, isMap, isSeq, type YAMLMap } from 'yaml';
import { z } from 'zod';
import type { StoredFormula } from '../../sinks/formulas/index.ts';
import { formulaFileSchema, formulaSchema } from '../../specs/formulas/schema.ts';

/** The keys of an entry, in the schema's order. */
const ENTRY_KEYS = Object.keys(formulaSchema.shape);
const VARIABLE_KEYS = ['metric', 'stat', 'formula'];
const EXAMPLE_KEYS = ['inputs', 'expect'];

/** `value` with `keys` first, in that order, then any others. */
function ordered(value: unknown, keys: readonly string[]): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  const entries = Object.entries(value);
  const rank = (k: string) => (keys.includes(k) ? keys.indexOf(k) : keys.length);
  return Object.fromEntries(entries.sort(([a], [b]) => rank(a) - rank(b)));
}

/** A stored version's entry as authored, with its current status. */
function entryOf(stored: StoredFormula): Record<string, unknown> {
  const entry: Record<string, unknown> = {
    ...(stored.definition as Record<string, unknown>),
    status: stored.formula.status,
  };
  if (typeof entry.variables === 'object' && entry.variables !== null)
    entry.variables = Object.fromEntries(
      Object.entries(entry.variables).map(([name, v]) => [name, ordered(v, VARIABLE_KEYS)]),
    );
  if (Array.isArray(entry.examples))
    entry.examples = entry.examples.map((e: unknown) => ordered(e, EXAMPLE_KEYS));
  return ordered(entry, ENTRY_KEYS) as Record<string, unknown>;
}

/** A formula file (`formulas:`) of `stored`, that `formulas validate` and `import` accept again. */
export function formulaFileText(stored: readonly StoredFormula[], comment?: string): string {
  const doc = new Document({ formulas: stored.map(entryOf) });
  if (comment !== undefined) doc.commentBefore = comment;
  const entries = doc.get('formulas');
  if (isSeq(entries))
    for (const entry of entries.items) {
      if (!isMap(entry)) continue;
      const targets = entry.get('targets');
      if (isSeq(targets)) targets.flow = true;
      const variables = entry.get('variables');
      if (isMap(variables)) for (const pair of variables.items) (pair.value as YAMLMap).flow = true;
      const examples = entry.get('examples');
      if (isSeq(examples)) for (const example of examples.items) (example as YAMLMap).flow = true;
    }
  return doc.toString({ lineWidth: 0 });
}

/**
 * The JSON Schema of a formula file, for editors. `effectiveFrom` is a day or a time as text: the
 * `Date` a YAML 1.1 parser could make of it has no JSON Schema form and is left out.
 */
export function formulaFileJsonSchema(): object {
  return z.toJSONSchema(formulaFileSchema, {
    io: 'input',
    unrepresentable: 'any',
    override: (ctx) => {
      const anyOf = ctx.jsonSchema.anyOf;
      if (!Array.isArray(anyOf)) return;
      const described = anyOf.filter((s) => typeof s !== 'object' || Object.keys(s).length > 0);
      if (described.length === anyOf.length) return;
      delete ctx.jsonSchema.anyOf;
      if (described.length === 1) Object.assign(ctx.jsonSchema, described[0]);
      else ctx.jsonSchema.anyOf = described;
    },
  });
}
