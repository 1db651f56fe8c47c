/**
 * Test-only fault points in the commit path. A real server cannot be made to die at exactly the
 * instant between two steps of a commit, so an acceptance test sets `SHARDFLOW_FAULT=<point>:<n>` on a
 * worker process, which then kills itself with SIGKILL (no cleanup, no flush, no checkpoint) the n-th
 * time it passes `<point>`. The variable is read once, when this module loads; unset, every call is a
 * no-op. Several points may be armed at once, separated by commas.
 */

/** Where the commit path can be made to die. */
export const FAULT_POINTS = [
  /** The new metadata file is written; the catalog does not point to it yet. */
  'iceberg-commit-after-metadata',
  /** The catalog swap succeeded; the caller has not been told (no shard is marked durable). */
  'iceberg-commit-after-swap',
] as const;

/** One of {@link FAULT_POINTS}. */
export type FaultPoint = (typeof FAULT_POINTS)[number];

/** The environment variable that arms fault points. */
export const FAULT_ENV = 'SHARDFLOW_FAULT';

/** Parses `point:n[,point:n…]` into point → the pass at which to die (1-based). */
export function parseFaultSpec(spec: string | undefined): Map<FaultPoint, number> {
  const armed = new Map<FaultPoint, number>();
  if (spec === undefined || spec.trim() === '') return armed;
  for (const part of spec.split(',')) {
    const [point, n] = part.trim().split(':');
    const pass = Number(n);
    if (!(FAULT_POINTS as readonly string[]).includes(point ?? '') || !Number.isInteger(pass) || pass < 1) {
      throw new Error(
        `${FAULT_ENV}: "${part}" is not <point>:<n> with n ≥ 1 and point one of ${FAULT_POINTS.join(', ')}`,
      );
    }
    armed.set(point as FaultPoint, pass);
  }
  return armed;
}

const armed = parseFaultSpec(process.env[FAULT_ENV]);
const passes = new Map<FaultPoint, number>();

/** Counts a pass through `point` and kills the process with SIGKILL on the armed pass. */
export function faultPoint(point: FaultPoint): void {
  const at = armed.get(point);
  if (at === undefined) return;
  const pass = (passes.get(point) ?? 0) + 1;
  passes.set(point, pass);
  if (pass === at) process.kill(process.pid, 'SIGKILL');
}
