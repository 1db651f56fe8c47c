/**
 * The formulas in force on a worker: every active version in the Warm store, compiled once, indexed
 * by product, and which version of each formula applies to a target on a day. A version applies
 * from its `effectiveFrom`; where several apply, the most specific scope wins (device > customer >
 * product), then the highest version. Customer × product days are judged by product- and
 * customer-scoped versions; a device's day by the device-scoped versions naming it.
 *
 * `follow` reloads on every change announced on the formulas' NOTIFY channel (an import commits,
 * the workers evaluate the new versions within about a second); a version that no longer compiles is
 * logged and left out, the others stay.
 */
import type { Formula } from '../../specs/formulas/schema.ts';
import { errorMessage, type Logger } from '../../topology/index.ts';
import { GAP, type PgChannelFeed } from '../postgres/channelFeed.ts';
import type { SqlClient } from '../postgres/sql.ts';
import { readFormulas } from './catalog.ts';
import { type CompiledFormula, compileFormula } from './compile.ts';

/** A compiled version with its targets as a set. */
export interface Version {
  readonly compiled: CompiledFormula;
  readonly targets: ReadonlySet<string>;
}

/** Whom a day belongs to. */
export type DayTarget =
  | { readonly kind: 'customer'; readonly customerId: string | null }
  | { readonly kind: 'device'; readonly deviceId: string };

/** How specific `f` is for `target`: 2 device, 1 customer, 0 product, -1 not for it. */
function specificity(f: Formula, targets: ReadonlySet<string>, target: DayTarget): number {
  if (target.kind === 'device') return f.scope === 'device' && targets.has(target.deviceId) ? 2 : -1;
  if (f.scope === 'product') return 0;
  if (f.scope === 'customer' && target.customerId !== null && targets.has(target.customerId)) return 1;
  return -1;
}

/**
 * The versions of one product's formulas in force for `target` on the day starting `dayStart`, by
 * formula id, in the order of the ids (`indexVersions` keeps them sorted). `candidate`, when given, is a version evaluated as if it were active and effective
 * (recompute): it wins over the other versions of its formula at its own scope.
 */
export function versionsInForce(
  versions: ReadonlyMap<string, readonly Version[]>,
  target: DayTarget,
  dayStart: number,
  candidate?: CompiledFormula,
): Map<string, CompiledFormula> {
  const chosen = new Map<string, CompiledFormula>();
  let ids: Iterable<string> = versions.keys();
  if (candidate && !versions.has(candidate.formula.id))
    ids = [...versions.keys(), candidate.formula.id].sort();
  for (const id of ids) {
    let best: Version | undefined;
    let bestRank = -1;
    const own = versions.get(id) ?? [];
    const all =
      candidate?.formula.id === id
        ? [...own, { compiled: candidate, targets: new Set(candidate.formula.targets) }]
        : own;
    for (const v of all) {
      const f = v.compiled.formula;
      const isCandidate = v.compiled === candidate;
      if (!isCandidate && (f.status !== 'active' || f.effectiveFrom > dayStart)) continue;
      const s = specificity(f, v.targets, target);
      if (s < 0) continue;
      // rank: scope first, then the candidate, then the version
      const rank = s * 2 + (isCandidate ? 1 : 0);
      if (
        best === undefined ||
        rank > bestRank ||
        (rank === bestRank && f.version > best.compiled.formula.version)
      ) {
        best = v;
        bestRank = rank;
      }
    }
    if (best) chosen.set(id, best.compiled);
  }
  return chosen;
}

/** Versions by product and formula id. */
export type VersionIndex = Map<string, Map<string, Version[]>>;

/**
 * Compiles `formulas` and indexes them by product and formula id; a version that does not compile is
 * passed to `refused` and left out.
 */
export function indexVersions(
  formulas: readonly Formula[],
  refused: (f: Formula, error: unknown) => void,
): VersionIndex {
  const byProduct: VersionIndex = new Map();
  const sorted = [...formulas].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : a.version - b.version));
  for (const formula of sorted) {
    let compiled: CompiledFormula;
    try {
      compiled = compileFormula(formula);
    } catch (error) {
      refused(formula, error);
      continue;
    }
    const byId = byProduct.get(formula.productId) ?? new Map<string, Version[]>();
    byProduct.set(formula.productId, byId);
    const versions = byId.get(formula.id) ?? [];
    byId.set(formula.id, versions);
    versions.push({ compiled, targets: new Set(formula.targets) });
  }
  return byProduct;
}

/** Every active version, compiled, by product and formula id. */
export class FormulasInForce {
  private byProduct: VersionIndex = new Map();
  private devices = new Set<string>();
  /** Products with a product- or customer-scoped version: worked out at each load, asked per final aggregate. */
  private customerDayProducts = new Set<string>();
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly client: SqlClient,
    private readonly log: Logger,
  ) {}

  /** True when `productId` has a formula for customer × product days. */
  hasCustomerDays(productId: string): boolean {
    return this.customerDayProducts.has(productId);
  }

  /** True when a device-scoped version names `deviceId`. */
  hasDevice(deviceId: string): boolean {
    return this.devices.has(deviceId);
  }

  /** The versions in force for `target`'s day of `productId`, by formula id. */
  forDay(
    productId: string,
    target: DayTarget,
    dayStart: number,
    candidate?: CompiledFormula,
  ): Map<string, CompiledFormula> {
    return versionsInForce(this.byProduct.get(productId) ?? new Map(), target, dayStart, candidate);
  }

  /** Reads and compiles every active version (again). */
  loadAll(): Promise<void> {
    const run = this.queue.then(async () => {
      const stored = await readFormulas(this.client, { status: 'active' });
      const byProduct = indexVersions(
        stored.map((s) => s.formula),
        (formula, error) =>
          this.log.error(
            { formula: formula.id, version: formula.version, error: errorMessage(error) },
            'formulas: a stored version does not compile; left out',
          ),
      );
      const devices = new Set<string>();
      const customerDayProducts = new Set<string>();
      for (const { formula } of stored)
        if (formula.scope === 'device') for (const d of formula.targets) devices.add(d);
        else customerDayProducts.add(formula.productId);
      this.byProduct = byProduct;
      this.devices = devices;
      this.customerDayProducts = customerDayProducts;
      this.log.info({ versions: stored.length, products: byProduct.size }, 'formulas: in force');
    });
    this.queue = run.catch(() => {});
    return run;
  }

  /** Reloads every formula when a change is announced on `feed` (or after a gap). */
  follow(feed: PgChannelFeed): () => void {
    return feed.subscribe((payload) => {
      if (payload !== GAP && typeof payload !== 'string') return;
      this.loadAll().catch((error: unknown) =>
        this.log.error({ error: errorMessage(error) }, 'formulas: reload failed; the formulas in force stay'),
      );
    });
  }
}
