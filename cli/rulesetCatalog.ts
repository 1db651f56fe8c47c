/**
 * The rulesets in force on a worker: each ruleset's newest version in the Warm store with its current
 * overrides (`sinks/warm/rulesets.ts`), checked against the product specs the worker decodes with and
 * compiled once (`operators/rules/compile/`). `shardflow rules import` announces a change on the
 * rulesets' NOTIFY channel, and the catalog reloads that ruleset when told (`follow`): a worker runs
 * the new version about as soon as the import commits. A stored version that does not pass its
 * checks here (a spec changed since the import) is refused with the ruleset, line and reason, and the
 * version in force before stays in force.
 *
 * A product has one ruleset: when two rulesets name the same product, the one whose id sorts first is
 * used and the other is refused. The reloading, the refusals and the one-per-product rule are
 * `sinks/postgres/versionsInForce.ts`, shared with the response policies in force.
 */
import { type CompiledRuleset, compileRuleset } from '../operators/rules/compile/compileRuleset.ts';
import { detectorIssues } from '../operators/rules/detectorParams.ts';
import type { PgChannelFeed } from '../sinks/postgres/channelFeed.ts';
import type { SqlClient } from '../sinks/postgres/sql.ts';
import { VersionsInForce } from '../sinks/postgres/versionsInForce.ts';
import { exportRuleset, rulesetIds } from '../sinks/warm/rulesets.ts';
import { parseRuleset } from '../specs/rules/loader.ts';
import type { Spec } from '../specs/schema.ts';
import type { Logger } from '../topology/index.ts';

/** The rulesets in force, by product (the reloading is `VersionsInForce`'s). */
export class RulesetCatalog {
  private readonly inForce: VersionsInForce<CompiledRuleset>;

  constructor(client: SqlClient, specsOf: (productId: string) => readonly Spec[], log: Logger) {
    this.inForce = new VersionsInForce<CompiledRuleset>(
      {
        ids: () => rulesetIds(client),
        async newest(rulesetId) {
          const stored = await exportRuleset(client, rulesetId);
          if (stored === undefined) return undefined;
          const { version, productId } = stored;
          const label = `ruleset ${rulesetId} version ${version} (Warm store)`;
          const parsed = parseRuleset(label, stored.yaml, specsOf, detectorIssues);
          return parsed.ruleset === undefined
            ? { version, productId, problems: parsed.problems.map((p) => `line ${p.line}: ${p.message}`) }
            : { version, productId, value: compileRuleset(parsed.ruleset) };
        },
      },
      { plural: 'rulesets', one: 'ruleset', field: 'ruleset' },
      log,
    );
  }

  /** The compiled ruleset in force for `productId`, if it has one. */
  forProduct(productId: string): CompiledRuleset | undefined {
    return this.inForce.forProduct(productId)?.value;
  }

  /** Loads every ruleset's version in force (again). */
  loadAll(): Promise<void> {
    return this.inForce.loadAll();
  }

  /** Loads one ruleset's version in force (again). */
  reload(rulesetId: string): Promise<void> {
    return this.inForce.reload(rulesetId);
  }

  /** Reloads a ruleset when a change to it is announced on `feed`, and every one after a gap. */
  follow(feed: PgChannelFeed): () => void {
    return this.inForce.follow(feed);
  }
}
