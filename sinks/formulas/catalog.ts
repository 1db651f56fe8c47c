/**
 * Formulas in the Warm store (migration 700): each version as authored, written once and never
 * changed but for its status (draft → active → retired). An import is announced on
 * `FORMULA_CHANNEL` (NOTIFY at commit, the product ids as payload) for the workers that evaluate them.
 */
import { type Formula, type FormulaStatus, formulaSchema } from '../../specs/formulas/schema.ts';
import { validateFormula } from '../../specs/formulas/validate.ts';
import { type ChannelFeedDeps, type PgChannelFeed, pgChannelFeed } from '../postgres/channelFeed.ts';
import type { SqlClient } from '../postgres/sql.ts';
import type { PgEndpoint } from '../postgres/store.ts';

/** The NOTIFY channel of formula changes. */
export const FORMULA_CHANNEL = 'shardflow_formulas';

/** A version with this id and number exists with other content: versions are never rewritten. */
export class FormulaVersionConflictError extends Error {
  override readonly name = 'FormulaVersionConflictError';
}

/** A version to store: the validated formula and its entry as authored. */
export interface FormulaToStore {
  readonly formula: Formula;
  readonly definition: unknown;
}

/** A version that does not pass its own checks (`validateFormula`): never stored. */
export class FormulaInvalidError extends Error {
  override readonly name = 'FormulaInvalidError';
}

/** What an import did, per version. */
export interface FormulaImport {
  readonly id: string;
  readonly version: number;
  readonly outcome: 'created' | 'status-changed' | 'unchanged';
}

/** A stored version. */
export interface StoredFormula {
  readonly formula: Formula;
  readonly definition: unknown;
  readonly importedAt: number;
  readonly updatedAt: number;
}

/** The content that identifies a version: everything but its status. */
function contentOf(f: Formula): string {
  const { status: _status, ...rest } = f;
  return JSON.stringify(rest);
}

function parseStored(definition: unknown, status: string): Formula {
  return formulaSchema.parse({ ...(definition as object), status });
}

/**
 * Stores versions in one transaction. Each is checked on its own again (the set's checks are the
 * caller's, which knows the files); the same version again changes nothing, or only its status;
 * other content under a stored version number, or a version that does not pass, is refused (nothing
 * of the import is stored).
 */
export async function importFormulas(
  client: SqlClient,
  versions: readonly FormulaToStore[],
): Promise<FormulaImport[]> {
  return client.transaction(async (tx) => {
    const done: FormulaImport[] = [];
    for (const { formula: f, definition } of versions) {
      const issues = validateFormula(f);
      if (issues.length > 0)
        throw new FormulaInvalidError(
          `formula ${f.id} version ${f.version}: ${issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
        );
      const inserted = await tx.query(
        `INSERT INTO formulas (formula_id, version, product_id, scope, targets, status, effective_from, definition)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (formula_id, version) DO NOTHING RETURNING version`,
        [
          f.id,
          f.version,
          f.productId,
          f.scope,
          f.targets,
          f.status,
          new Date(f.effectiveFrom).toISOString(),
          JSON.stringify(definition),
        ],
      );
      if (inserted.rows.length > 0) {
        done.push({ id: f.id, version: f.version, outcome: 'created' });
        continue;
      }
      const { rows } = await tx.query<{ definition: unknown; status: string }>(
        'SELECT definition, status FROM formulas WHERE formula_id = $1 AND version = $2',
        [f.id, f.version],
      );
      const stored = parseStored(rows[0]!.definition, rows[0]!.status);
      if (contentOf(stored) !== contentOf(f))
        throw new FormulaVersionConflictError(
          `formula ${f.id} version ${f.version} is stored already with other content; give the change a new version`,
        );
      if (stored.status === f.status) {
        done.push({ id: f.id, version: f.version, outcome: 'unchanged' });
        continue;
      }
      await tx.query(
        `UPDATE formulas SET status = $3, definition = $4, updated_at = now() WHERE formula_id = $1 AND version = $2`,
        [f.id, f.version, f.status, JSON.stringify(definition)],
      );
      done.push({ id: f.id, version: f.version, outcome: 'status-changed' });
    }
    const products = [...new Set(versions.map((v) => v.formula.productId))].sort();
    if (done.some((d) => d.outcome !== 'unchanged'))
      await tx.query('SELECT pg_notify($1, $2)', [FORMULA_CHANNEL, products.join(',')]);
    return done;
  });
}

/** Which stored versions to read; every condition given must hold. */
export interface FormulaFilter {
  readonly productId?: string;
  readonly formulaId?: string;
  readonly status?: FormulaStatus;
}

/** Stored versions, by product, formula id and version. */
export async function readFormulas(client: SqlClient, filter: FormulaFilter = {}): Promise<StoredFormula[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (filter.productId !== undefined) where.push(`product_id = $${params.push(filter.productId)}`);
  if (filter.formulaId !== undefined) where.push(`formula_id = $${params.push(filter.formulaId)}`);
  if (filter.status !== undefined) where.push(`status = $${params.push(filter.status)}`);
  const { rows } = await client.query<{
    definition: unknown;
    status: string;
    imported_at: Date;
    updated_at: Date;
  }>(
    `SELECT definition, status, imported_at, updated_at FROM formulas${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''}
     ORDER BY product_id, formula_id, version`,
    params,
  );
  return rows.map((r) => ({
    formula: parseStored(r.definition, r.status),
    definition: r.definition,
    importedAt: new Date(r.imported_at).getTime(),
    updatedAt: new Date(r.updated_at).getTime(),
  }));
}

/** A feed of formula changes (LISTEN on the write endpoint). */
export function formulaFeed(endpoint: PgEndpoint, deps: ChannelFeedDeps): PgChannelFeed {
  return pgChannelFeed(
    endpoint,
    {
      channel: FORMULA_CHANNEL,
      label: 'formula changes',
      gauge: 'formula_changes',
      whileDown: 'the formulas in force stay as they are',
      afterGap: 'every formula is read again',
    },
    deps,
  );
}
