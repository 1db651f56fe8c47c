/**
 * The statistics columns of every aggregate table (the Warm daily aggregates, the Hot windows), in
 * one place: how a row returns them and how an upsert's JSON parameter carries them.
 */
import type { MetricStats } from '../../topology/index.ts';

/** The statistics columns every aggregate table (Warm daily, Hot windows) has, as a row returns them. */
export interface StatsRow {
  count: string | number;
  sum: number;
  min: number;
  max: number;
  mean: number;
  m2: number;
  first: number;
  first_at: Date;
  last: number;
  last_at: Date;
}

/** The statistics of an aggregate row. */
export function statsOfRow(r: StatsRow): MetricStats {
  return {
    count: Number(r.count),
    sum: Number(r.sum),
    min: Number(r.min),
    max: Number(r.max),
    mean: Number(r.mean),
    m2: Number(r.m2),
    first: Number(r.first),
    firstAt: new Date(r.first_at).getTime(),
    last: Number(r.last),
    lastAt: new Date(r.last_at).getTime(),
  };
}

/**
 * The statistics of an aggregate as the `jsonb_to_recordset` columns `c, su, mi, ma, mn, m2, fi, fa,
 * la, lt` of the aggregate upserts (Warm daily, Hot windows) read them.
 */
export function statsJson(s: MetricStats) {
  return {
    c: s.count,
    su: s.sum,
    mi: s.min,
    ma: s.max,
    mn: s.mean,
    m2: s.m2,
    fi: s.first,
    fa: s.firstAt,
    la: s.last,
    lt: s.lastAt,
  };
}
