/**
 * The versions in force of sets stored in versions in PostgreSQL (rulesets, response-policy sets),
 * one set per product: each set's newest stored version that passes its checks, reloaded when its
 * NOTIFY channel names the set (`follow`) and all of them after a gap in listening. A stored version
 * refused by its checks is logged with the set, version and problems, and the version in force before
 * stays. When two sets name the same product, the one whose id sorts first is used and the other is
 * refused. What a set is, how it is read and checked, is the caller's (`VersionSource`).
 */
import { errorMessage, type Logger } from '../../topology/index.ts';
import { GAP, type PgChannelFeed } from './channelFeed.ts';

/** A stored set's newest version, as read and checked by its source. */
export type StoredVersion<T> =
  | { readonly version: number; readonly productId: string; readonly value: T }
  /** Refused by its checks: each problem as `line N: reason`. */
  | { readonly version: number; readonly productId: string; readonly problems: readonly string[] };

/** Where the sets come from. */
export interface VersionSource<T> {
  /** The ids of every stored set. */
  ids(): Promise<readonly string[]>;
  /** A set's newest version, checked; undefined when none is stored. */
  newest(id: string): Promise<StoredVersion<T> | undefined>;
}

/** What the log lines call the sets: `{ plural: 'rulesets', one: 'ruleset', field: 'ruleset' }`. */
export interface VersionNames {
  /** The prefix of every log line, e.g. `rulesets`. */
  readonly plural: string;
  /** One of them in words, e.g. `ruleset`. */
  readonly one: string;
  /** The log field holding a set's id, e.g. `ruleset`. */
  readonly field: string;
}

/** One set's version in force. */
export interface InForce<T> {
  readonly id: string;
  readonly version: number;
  readonly productId: string;
  readonly value: T;
}

/** The versions in force, by set and by product. */
export class VersionsInForce<T> {
  private readonly bySet = new Map<string, InForce<T>>();
  private byProduct = new Map<string, InForce<T>>();
  /** Reloads run one after another, in the order they were asked for. */
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly source: VersionSource<T>,
    private readonly names: VersionNames,
    private readonly log: Logger,
  ) {}

  /** The set in force for `productId`, if it has one. */
  forProduct(productId: string): InForce<T> | undefined {
    return this.byProduct.get(productId);
  }

  /** Loads every set's version in force (again); sets no longer stored are dropped. */
  loadAll(): Promise<void> {
    return this.enqueue(async () => {
      const ids = await this.source.ids();
      for (const id of [...this.bySet.keys()]) if (!ids.includes(id)) this.bySet.delete(id);
      for (const id of ids) await this.loadOne(id);
      this.index();
    });
  }

  /** Loads one set's version in force (again). */
  reload(id: string): Promise<void> {
    return this.enqueue(async () => {
      await this.loadOne(id);
      this.index();
    });
  }

  /** Reloads a set when a change to it is announced on `feed`, and every one after a gap. */
  follow(feed: PgChannelFeed): () => void {
    return feed.subscribe((payload) => {
      const done = payload === GAP || payload === '' ? this.loadAll() : this.reload(payload);
      done.catch((error: unknown) =>
        this.log.error(
          { error: errorMessage(error) },
          `${this.names.plural}: reload failed; the ${this.names.plural} in force stay`,
        ),
      );
    });
  }

  private enqueue(work: () => Promise<void>): Promise<void> {
    const run = this.queue.then(work);
    this.queue = run.catch(() => {});
    return run;
  }

  private async loadOne(id: string): Promise<void> {
    const stored = await this.source.newest(id);
    if (stored === undefined) {
      this.bySet.delete(id);
      return;
    }
    const current = this.bySet.get(id);
    const { plural, field } = this.names;
    if ('problems' in stored) {
      this.log.error(
        {
          [field]: id,
          version: stored.version,
          problems: stored.problems,
          inForce: current?.version ?? null,
        },
        `${plural}: a stored version is refused; the version in force before stays`,
      );
      return;
    }
    this.bySet.set(id, { id, version: stored.version, productId: stored.productId, value: stored.value });
    if (current?.version !== stored.version)
      this.log.info(
        { [field]: id, version: stored.version, product: stored.productId },
        `${plural}: in force`,
      );
  }

  private index(): void {
    const byProduct = new Map<string, InForce<T>>();
    for (const id of [...this.bySet.keys()].sort()) {
      const set = this.bySet.get(id)!;
      const other = byProduct.get(set.productId);
      if (other === undefined) byProduct.set(set.productId, set);
      else
        this.log.error(
          { [this.names.field]: id, product: set.productId, inForce: other.id },
          `${this.names.plural}: a product has one ${this.names.one}; this one is refused`,
        );
    }
    this.byProduct = byProduct;
  }
}
