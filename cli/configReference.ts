/**
 * The configuration reference printed by `shardflow run --help` (and `shardflow gateway … --help`), generated from the same zod schema
 * that validates the file, so the help text cannot drift from what is accepted.
 */
import { z } from 'zod';
import { workerConfigSchema } from './config.ts';

interface JsonSchema {
  readonly type?: string;
  readonly properties?: Record<string, JsonSchema>;
  readonly required?: readonly string[];
  readonly description?: string;
  readonly default?: unknown;
  readonly enum?: readonly unknown[];
  readonly const?: unknown;
  readonly anyOf?: readonly JsonSchema[];
  readonly oneOf?: readonly JsonSchema[];
}

function typeOf(s: JsonSchema): string {
  if (s.const !== undefined) return String(s.const);
  if (s.enum) return s.enum.join('|');
  if (s.anyOf) return s.anyOf.map(typeOf).join(' or ');
  return s.type ?? 'any';
}

function envName(path: readonly string[]): string {
  return `SHARDFLOW_${path.map((p) => p.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('__')}`;
}

/**
 * One object schema for a union of object variants (e.g. `state`: redis or embedded): every key of
 * any variant, a key's types joined with `|`, the union's description and default kept.
 */
function mergeVariants(s: JsonSchema, variants: readonly JsonSchema[]): JsonSchema {
  const properties: Record<string, JsonSchema> = {};
  for (const variant of variants) {
    for (const [key, child] of Object.entries(variant.properties ?? {})) {
      const seen = properties[key];
      properties[key] = seen
        ? { ...seen, const: undefined, type: `${typeOf(seen)}|${typeOf(child)}` }
        : child;
    }
  }
  return { type: 'object', properties, description: s.description, default: s.default };
}

function walk(s: JsonSchema, path: string[], required: boolean, lines: string[]): void {
  const variants = s.oneOf ?? s.anyOf;
  if (variants?.every((v) => v.type === 'object' && v.properties)) {
    walk(mergeVariants(s, variants), path, required, lines);
    return;
  }
  if (s.type === 'object' && s.properties) {
    for (const [key, child] of Object.entries(s.properties)) {
      walk(child, [...path, key], (s.required ?? []).includes(key), lines);
    }
    return;
  }
  const notes = [typeOf(s)];
  if (s.default !== undefined) notes.push(`default ${JSON.stringify(s.default)}`);
  else if (required) notes.push('required');
  lines.push(`  ${path.join('.')}  (${notes.join(', ')})`);
  if (s.description) lines.push(`      ${s.description}`);
  lines.push(`      env: ${envName(path)}`);
}

/**
 * Every key of a configuration (the worker's by default) with its type, default, description and
 * environment variable.
 */
export function configReference(of: z.ZodType = workerConfigSchema): string {
  const schema = z.toJSONSchema(of, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const lines = ['', 'Configuration keys (YAML; each can be overridden by its environment variable):'];
  walk(schema, [], true, lines);
  return `${lines.join('\n')}\n`;
}
