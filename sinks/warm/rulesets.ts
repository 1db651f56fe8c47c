/**
 * Rulesets in the Warm store (migration 610): each version as the YAML its author wrote, written
 * once and never changed, and the ruleset's overrides per customer, site and device, which the
 * latest import replaces. A change is announced on `RULESET_CHANNEL` (NOTIFY at commit, the
 * ruleset id as payload) for the workers that reload rules.
 */
import { parseDocument } from 'yaml';
import type { Override, Ruleset } from '../../specs/rules/schema.ts';
import { type ChannelFeedDeps, type PgChannelFeed, pgChannelFeed } from '../postgres/channelFeed.ts';
import type { SqlClient } from '../postgres/sql.ts';
import type { PgEndpoint } from '../postgres/store.ts';

/** The NOTIFY channel of ruleset changes. */
export const RULESET_CHANNEL = 'shardflow_rulesets';

/** A version with this id and number exists with other text: versions are never rewritten. */
export class RulesetVersionConflictError extends Error {
  override readonly name = 'RulesetVersionConflictError';
}

/** What an import did. */
export interface RulesetImport {
  /** False when this very version was stored already (same text). */
  readonly created: boolean;
  readonly overrides: number;
}

const TARGETS = ['customer', 'site', 'device'] as const;

function targetOf(o: Override): { kind: (typeof TARGETS)[number]; id: string } {
  for (const kind of TARGETS) {
    const id = o[kind];
    if (id !== undefined) return { kind, id };
  }
  throw new Error('an override names none of customer, site, device');
}

/** A version's text but its `overrides:` (which belong to the ruleset, not the version). */
function withoutOverrides(source: string): string {
  const doc = parseDocument(source);
  doc.delete('overrides');
  return doc.toString({ lineWidth: 0 });
}

/**
 * Stores a validated ruleset version (its `source` text as authored) and replaces the ruleset's
 * overrides by the file's, in one transaction. Importing the same file again (or with other
 * overrides) changes nothing but the overrides; a different text under a stored version number is
 * refused.
 */
export async function importRuleset(
  client: SqlClient,
  ruleset: Ruleset,
  source: string,
): Promise<RulesetImport> {
  return client.transaction(async (tx) => {
    const inserted = await tx.query(
      `INSERT INTO rulesets (ruleset_id, version, product_id, source) VALUES ($1, $2, $3, $4)
       ON CONFLICT (ruleset_id, version) DO NOTHING RETURNING version`,
      [ruleset.id, ruleset.version, ruleset.productId, source],
    );
    if (inserted.rows.length === 0) {
      const { rows } = await tx.query<{ source: string }>(
        'SELECT source FROM rulesets WHERE ruleset_id = $1 AND version = $2',
        [ruleset.id, ruleset.version],
      );
      const stored = rows[0]?.source;
      if (stored === undefined || withoutOverrides(stored) !== withoutOverrides(source))
        throw new RulesetVersionConflictError(
          `ruleset ${ruleset.id} version ${ruleset.version} is stored already with other content; give the change a new version`,
        );
    }
    await tx.query('DELETE FROM ruleset_overrides WHERE ruleset_id = $1', [ruleset.id]);
    const overrides = ruleset.overrides.map((o, position) => {
      const target = targetOf(o);
      return { target_kind: target.kind, target_id: target.id, position, rules: o.rules };
    });
    if (overrides.length > 0)
      await tx.query(
        `INSERT INTO ruleset_overrides (ruleset_id, target_kind, target_id, position, rules)
         SELECT $1, target_kind, target_id, position, rules
           FROM jsonb_to_recordset($2::jsonb) AS o(target_kind text, target_id text, position integer, rules jsonb)`,
        [ruleset.id, JSON.stringify(overrides)],
      );
    await tx.query('SELECT pg_notify($1, $2)', [RULESET_CHANNEL, ruleset.id]);
    return { created: inserted.rows.length > 0, overrides: overrides.length };
  });
}

/** A stored version, as a YAML file. */
export interface RulesetExport {
  readonly rulesetId: string;
  readonly version: number;
  readonly productId: string;
  /** The version's text, its `overrides:` those stored now. */
  readonly yaml: string;
}

/**
 * A stored ruleset version (the newest when `version` is not given) as the YAML it was written in,
 * with the ruleset's current overrides in its `overrides:` section; undefined when there is none.
 */
export async function exportRuleset(
  client: SqlClient,
  rulesetId: string,
  version?: number,
): Promise<RulesetExport | undefined> {
  const { rows } = await client.query<{ version: number; product_id: string; source: string }>(
    `SELECT version, product_id, source FROM rulesets
      WHERE ruleset_id = $1 AND ($2::integer IS NULL OR version = $2)
      ORDER BY version DESC LIMIT 1`,
    [rulesetId, version ?? null],
  );
  const row = rows[0];
  if (row === undefined) return undefined;
  const stored = await client.query<{ target_kind: string; target_id: string; rules: unknown }>(
    `SELECT target_kind, target_id, rules FROM ruleset_overrides WHERE ruleset_id = $1
      ORDER BY position, target_kind, target_id`,
    [rulesetId],
  );
  const doc = parseDocument(row.source);
  if (stored.rows.length > 0)
    doc.set(
      'overrides',
      stored.rows.map((o) => ({ [o.target_kind]: o.target_id, rules: o.rules })),
    );
  else doc.delete('overrides');
  return { rulesetId, version: row.version, productId: row.product_id, yaml: doc.toString({ lineWidth: 0 }) };
}

/** The ids of every stored ruleset, in order. */
export async function rulesetIds(client: SqlClient): Promise<string[]> {
  const { rows } = await client.query<{ ruleset_id: string }>(
    'SELECT DISTINCT ruleset_id FROM rulesets ORDER BY ruleset_id',
  );
  return rows.map((r) => r.ruleset_id);
}

/** Listens for ruleset changes (`RULESET_CHANNEL`, the ruleset id as payload) on the write endpoint. */
export function rulesetFeed(endpoint: PgEndpoint, deps: ChannelFeedDeps): PgChannelFeed {
  return pgChannelFeed(
    endpoint,
    {
      channel: RULESET_CHANNEL,
      label: 'ruleset changes',
      gauge: 'ruleset_changes',
      whileDown: 'the rulesets in force stay as they are',
      afterGap: 'every ruleset is read again',
    },
    deps,
  );
}
