/**
 * Which PostgreSQL errors are the data's fault. Every error of a `SqlClient` passes through
 * {@link classifyPgError}: errors the records caused become `RecordRejectedError`s (permanent: the
 * runtime isolates the records responsible); everything else (connection, timeout, failover, lock,
 * serialization, a server shutting down, and errors that are bugs in shardflow's own SQL) stays as it
 * is and is retried, stalling the shard, which the runtime reports as stuck if it lasts.
 *
 * The classes and codes are PostgreSQL's SQLSTATEs (Appendix A of its manual).
 */
import { RecordRejectedError } from '../../topology/index.ts';

/** SQLSTATE classes whose every code the data causes. */
const PERMANENT_CLASSES = new Set([
  '22', // data exception: invalid byte sequence (NUL), out of range, invalid text representation, …
  '54', // program limit exceeded: index row size, too many arguments or columns, statement too complex
]);

/** Single codes the data causes, outside those classes. */
const PERMANENT_CODES = new Set([
  '21000', // cardinality violation: one upsert statement touching a key twice
  '23502', // not-null violation
  '23503', // foreign-key violation
  '23514', // check violation
  '23001', // restrict violation
  // 23505 (unique) and 23P01 (exclusion) are left out: concurrent upserts race into them and win on retry
]);

interface PgErrorFields {
  readonly code?: unknown;
  readonly constraint?: unknown;
  readonly column?: unknown;
  readonly table?: unknown;
  readonly message?: unknown;
}

/** True for a SQLSTATE the records of a statement cause (see the sets above). */
function isDataSqlState(code: string): boolean {
  return PERMANENT_CLASSES.has(code.slice(0, 2)) || PERMANENT_CODES.has(code);
}

/** The error as thrown, or a `RecordRejectedError` when the data caused it. */
export function classifyPgError(error: unknown): unknown {
  if (typeof error !== 'object' || error === null || error instanceof RecordRejectedError) return error;
  const e = error as PgErrorFields;
  if (typeof e.code !== 'string' || !/^[0-9A-Z]{5}$/.test(e.code) || !isDataSqlState(e.code)) return error;
  const where = [e.constraint, e.column, e.table].find((x): x is string => typeof x === 'string');
  return new RecordRejectedError(
    { store: 'postgresql', code: e.code, ...(where !== undefined ? { constraint: where } : {}) },
    typeof e.message === 'string' ? e.message : String(error),
    { cause: error },
  );
}
