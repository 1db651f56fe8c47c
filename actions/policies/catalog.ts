/**
 * Response-policy sets in the Warm store (migration 810): each version as the YAML its author wrote,
 * written once and never changed; a change is announced on `POLICY_CHANNEL` (NOTIFY at commit, the
 * set id as payload). And the policies in force on a worker (`PolicyCatalog`): the newest version of
 * each set that passes its checks, one set per product, reloaded on NOTIFY; the outbox asks it which
 * policy applies to an alarm event (`policyFor`, the first match of `matchPolicy`).
 */
import { type ChannelFeedDeps, type PgChannelFeed, pgChannelFeed } from '../../sinks/postgres/channelFeed.ts';
import type { SqlClient } from '../../sinks/postgres/sql.ts';
import type { PgEndpoint } from '../../sinks/postgres/store.ts';
import { VersionsInForce } from '../../sinks/postgres/versionsInForce.ts';
import { parsePolicySet } from '../../specs/responses/loader.ts';
import type { ResponsePolicy, ResponsePolicySet } from '../../specs/responses/schema.ts';
import { matchPolicy } from '../../specs/responses/validate.ts';
import type { Logger } from '../../topology/index.ts';

/** The NOTIFY channel of response-policy changes. */
export const POLICY_CHANNEL = 'shardflow_responses';

/** A version with this id and number exists with other text: versions are never rewritten. */
export class PolicySetVersionConflictError extends Error {
  override readonly name = 'PolicySetVersionConflictError';
}

/**
 * Stores a validated policy-set version (its `source` text as authored, `importedBy` who did it, when
 * known). The same text again changes nothing (`created: false`); other text under a stored version
 * number is a {@link PolicySetVersionConflictError}.
 */
export async function importPolicySet(
  client: SqlClient,
  set: ResponsePolicySet,
  source: string,
  importedBy?: string,
): Promise<{ readonly created: boolean }> {
  return client.transaction(async (tx) => {
    const inserted = await tx.query(
      `INSERT INTO response_policy_sets (policy_set_id, version, product_id, source, imported_by)
       VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (policy_set_id, version) DO NOTHING RETURNING version`,
      [set.id, set.version, set.productId, source, importedBy ?? null],
    );
    if (inserted.rows.length > 0) {
      await tx.query('SELECT pg_notify($1, $2)', [POLICY_CHANNEL, set.id]);
      return { created: true };
    }
    const { rows } = await tx.query<{ source: string }>(
      'SELECT source FROM response_policy_sets WHERE policy_set_id = $1 AND version = $2',
      [set.id, set.version],
    );
    if (rows[0]?.source !== source)
      throw new PolicySetVersionConflictError(
        `policy set ${set.id} version ${set.version} is stored already with other content; give the change a new version`,
      );
    return { created: false };
  });
}

/** A stored version, without its text. */
export interface StoredPolicySet {
  readonly id: string;
  readonly version: number;
  readonly productId: string;
  /** Epoch ms. */
  readonly importedAt: number;
  readonly importedBy: string | null;
}

/** A stored version with its text. */
export interface PolicySetExport extends StoredPolicySet {
  /** The version's YAML as imported. */
  readonly yaml: string;
}

interface Row {
  policy_set_id: string;
  version: number;
  product_id: string;
  imported_at: Date;
  imported_by: string | null;
}

function storedOf(row: Row): StoredPolicySet {
  return {
    id: row.policy_set_id,
    version: row.version,
    productId: row.product_id,
    importedAt: row.imported_at.getTime(),
    importedBy: row.imported_by,
  };
}

/** A stored version (the newest when `version` is not given) as the YAML it was written in; undefined when none. */
export async function exportPolicySet(
  client: SqlClient,
  id: string,
  version?: number,
): Promise<PolicySetExport | undefined> {
  const { rows } = await client.query<Row & { source: string }>(
    `SELECT policy_set_id, version, product_id, imported_at, imported_by, source FROM response_policy_sets
      WHERE policy_set_id = $1 AND ($2::integer IS NULL OR version = $2)
      ORDER BY version DESC LIMIT 1`,
    [id, version ?? null],
  );
  const row = rows[0];
  return row === undefined ? undefined : { ...storedOf(row), yaml: row.source };
}

/** Every stored version, by set id, newest version first. */
export async function listPolicySets(client: SqlClient): Promise<StoredPolicySet[]> {
  const { rows } = await client.query<Row>(
    `SELECT policy_set_id, version, product_id, imported_at, imported_by FROM response_policy_sets
      ORDER BY policy_set_id, version DESC`,
  );
  return rows.map(storedOf);
}

/** Listens for policy changes (`POLICY_CHANNEL`, the set id as payload) on the write endpoint. */
export function policyFeed(endpoint: PgEndpoint, deps: ChannelFeedDeps): PgChannelFeed {
  return pgChannelFeed(
    endpoint,
    {
      channel: POLICY_CHANNEL,
      label: 'response-policy changes',
      gauge: 'response_policy_changes',
      whileDown: 'the response policies in force stay as they are',
      afterGap: 'every policy set is read again',
    },
    deps,
  );
}

/** The policy that applies to an alarm, and the set it is in. */
export interface PolicyInForce {
  readonly set: ResponsePolicySet;
  readonly policy: ResponsePolicy;
  /** Its index in `set.policies`. */
  readonly index: number;
}

/** Finds the policy in force for an alarm of `ruleId` at `severity` on `productId`. */
export type PolicyLookup = (productId: string, ruleId: string, severity: string) => PolicyInForce | undefined;

/** The policy of `set` for an alarm of `ruleId` at `severity`: the first that matches. */
export function policyInSet(
  set: ResponsePolicySet,
  ruleId: string,
  severity: string,
): PolicyInForce | undefined {
  const found = matchPolicy(set, ruleId, severity);
  return found === undefined ? undefined : { set, ...found };
}

/**
 * The lookup over policy sets loaded from files (a worker's `actions.policiesDir`): each product's
 * highest version.
 */
export function policiesOfSets(sets: readonly ResponsePolicySet[]): PolicyLookup {
  const byProduct = new Map<string, ResponsePolicySet>();
  for (const set of sets) {
    const current = byProduct.get(set.productId);
    if (current === undefined || current.version < set.version) byProduct.set(set.productId, set);
  }
  return (productId, ruleId, severity) => {
    const set = byProduct.get(productId);
    return set === undefined ? undefined : policyInSet(set, ruleId, severity);
  };
}

/**
 * The response policies in force on a worker, by product. A stored version that no longer passes
 * its checks (the language changed since the import) is refused with the set, line and reason, and
 * the version in force before stays; of two sets naming one product, the id sorting first is used.
 */
export class PolicyCatalog {
  private readonly inForce: VersionsInForce<ResponsePolicySet>;

  constructor(client: SqlClient, log: Logger) {
    this.inForce = new VersionsInForce<ResponsePolicySet>(
      {
        ids: async () => [...new Set((await listPolicySets(client)).map((s) => s.id))],
        async newest(id) {
          const stored = await exportPolicySet(client, id);
          if (stored === undefined) return undefined;
          const { version, productId } = stored;
          const parsed = parsePolicySet(`policy set ${id} version ${version} (Warm store)`, stored.yaml);
          return parsed.set === undefined
            ? { version, productId, problems: parsed.problems.map((p) => `line ${p.line}: ${p.message}`) }
            : { version, productId, value: parsed.set };
        },
      },
      { plural: 'response policies', one: 'policy set', field: 'policySet' },
      log,
    );
  }

  /** Loads every set's version in force (again). */
  loadAll(): Promise<void> {
    return this.inForce.loadAll();
  }

  /** Loads one set's version in force (again). */
  reload(id: string): Promise<void> {
    return this.inForce.reload(id);
  }

  /** Reloads a set when a change to it is announced on `feed`, and every one after a gap. */
  follow(feed: PgChannelFeed): () => void {
    return this.inForce.follow(feed);
  }

  /** The set in force for `productId`, if it has one. */
  setFor(productId: string): ResponsePolicySet | undefined {
    return this.inForce.forProduct(productId)?.value;
  }

  /** The policy that applies to an alarm of `ruleId` at `severity` (the platform's name) on a device of `productId`. */
  policyFor(productId: string, ruleId: string, severity: string): PolicyInForce | undefined {
    const set = this.setFor(productId);
    if (set === undefined) return undefined;
    return policyInSet(set, ruleId, severity);
  }
}
