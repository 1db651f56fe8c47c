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
 * used and the other is refused.
 */
import { type CompiledRuleset, compileRuleset } from '../operators/rules/compile/compileRuleset.ts';
import { detectorIssues } from '../operators/rules/detectorParams.ts';
import { GAP, type PgChannelFeed } from '../sinks/postgres/channelFeed.ts';
import type { SqlClient } from '../sinks/postgres/sql.ts';
import { exportRuleset, rulesetIds } from '../sinks/warm/rulesets.ts';
import { parseRuleset } from '../specs/rules/loader.ts';
import type { Spec } from '../specs/schema.ts';
import { errorMessage, type Logger } from '../topology/index.ts';

/** One ruleset as compiled, and which version. */
interface InForce {
  readonly version: number;
  readonly compiled: CompiledRuleset;
}

/** The rulesets in force, by product. */
export class RulesetCatalog {
  private readonly byRuleset = new Map<string, InForce>();
  private byProduct = new Map<string, CompiledRuleset>();
  /** Reloads run one after another, in the order they were asked for. */
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly client: SqlClient,
    private readonly specsOf: (productId: string) => readonly Spec[],
    private readonly log: Logger,
  ) {}

  /** The compiled ruleset in force for `productId`, if it has one. */
  forProduct(productId: string): CompiledRuleset | undefined {
    return this.byProduct.get(productId);
  }

  /** Loads every ruleset's version in force (again). */
  loadAll(): Promise<void> {
    return this.enqueue(async () => {
      const ids = await rulesetIds(this.client);
      for (const id of [...this.byRuleset.keys()]) if (!ids.includes(id)) this.byRuleset.delete(id);
      for (const id of ids) await this.loadOne(id);
      this.index();
    });
  }

  /** Loads one ruleset's version in force (again). */
  reload(rulesetId: string): Promise<void> {
    return this.enqueue(async () => {
      await this.loadOne(rulesetId);
      this.index();
    });
  }

  /** Reloads a ruleset when a change to it is announced on `feed`, and every one after a gap. */
  follow(feed: PgChannelFeed): () => void {
    return feed.subscribe((payload) => {
      const done = payload === GAP || payload === '' ? this.loadAll() : this.reload(payload);
      done.catch((error: unknown) =>
        this.log.error({ error: errorMessage(error) }, 'rulesets: reload failed; the rulesets in force stay'),
      );
    });
  }

  private enqueue(work: () => Promise<void>): Promise<void> {
    const run = this.queue.then(work);
    this.queue = run.catch(() => {});
    return run;
  }

  private async loadOne(rulesetId: string): Promise<void> {
    const stored = await exportRuleset(this.client, rulesetId);
    if (stored === undefined) {
      this.byRuleset.delete(rulesetId);
      return;
    }
    const current = this.byRuleset.get(rulesetId);
    const label = `ruleset ${rulesetId} version ${stored.version} (Warm store)`;
    const parsed = parseRuleset(label, stored.yaml, this.specsOf, detectorIssues);
    if (parsed.ruleset === undefined) {
      this.log.error(
        {
          ruleset: rulesetId,
          version: stored.version,
          problems: parsed.problems.map((p) => `line ${p.line}: ${p.message}`),
          inForce: current?.version ?? null,
        },
        'rulesets: a stored version is refused; the version in force before stays',
      );
      return;
    }
    this.byRuleset.set(rulesetId, { version: stored.version, compiled: compileRuleset(parsed.ruleset) });
    if (current?.version !== stored.version)
      this.log.info(
        { ruleset: rulesetId, version: stored.version, product: stored.productId },
        'rulesets: in force',
      );
  }

  private index(): void {
    const byProduct = new Map<string, CompiledRuleset>();
    for (const id of [...this.byRuleset.keys()].sort()) {
      const { compiled } = this.byRuleset.get(id)!;
      const other = byProduct.get(compiled.productId);
      if (other === undefined) byProduct.set(compiled.productId, compiled);
      else
        this.log.error(
          { ruleset: id, product: compiled.productId, inForce: other.id },
          'rulesets: a product has one ruleset; this one is refused',
        );
    }
    this.byProduct = byProduct;
  }
}
