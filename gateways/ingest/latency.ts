/**
 * Latencies in fixed logarithmic buckets (about 4 % wide), so a long-running gateway keeps its
 * percentiles in constant memory.
 */
const BUCKETS_PER_DOUBLING = 16;
const BUCKETS = BUCKETS_PER_DOUBLING * 24; // up to 2^24 ms (4.6 hours)

/** A histogram of millisecond latencies. */
export class LatencyHistogram {
  private readonly counts = new Float64Array(BUCKETS + 1);
  private total = 0;
  private maximum = 0;

  add(ms: number): void {
    const value = Math.max(0, ms);
    const bucket = value < 1 ? 0 : Math.min(BUCKETS, Math.floor(Math.log2(value + 1) * BUCKETS_PER_DOUBLING));
    this.counts[bucket]!++;
    this.total++;
    if (value > this.maximum) this.maximum = value;
  }

  /** The upper bound (ms) below which a share `q` of the latencies lie. */
  quantile(q: number): number {
    if (this.total === 0) return 0;
    const rank = Math.ceil(q * this.total);
    let seen = 0;
    for (let b = 0; b <= BUCKETS; b++) {
      seen += this.counts[b]!;
      if (seen >= rank) return Math.min(this.maximum, 2 ** ((b + 1) / BUCKETS_PER_DOUBLING) - 1);
    }
    return this.maximum;
  }

  summary(): { p50: number; p99: number; max: number; count: number } {
    return { p50: this.quantile(0.5), p99: this.quantile(0.99), max: this.maximum, count: this.total };
  }
}
