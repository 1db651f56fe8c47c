/**
 * Which MongoDB / DocumentDB errors are the data's fault: a document or key the server will never
 * accept (too large, invalid field names or values, failed validation). Those become
 * `RecordRejectedError`s and the runtime isolates the records responsible; every other error
 * (network, primary stepping down, timeouts, throttling) is retried as it is.
 */
import { MongoBulkWriteError } from 'mongodb';
import { RecordRejectedError } from '../../topology/index.ts';

/** Server error codes caused by a document's content. */
const DATA_ERROR_CODES = new Map<number, string>([
  [2, 'BadValue'],
  [9, 'FailedToParse'],
  [14, 'TypeMismatch'],
  [17, 'CannotCreateIndex'],
  [52, 'DollarPrefixedFieldName'],
  [56, 'EmptyFieldName'],
  [57, 'DottedFieldName'],
  [121, 'DocumentValidationFailure'],
  [10334, 'BSONObjectTooLarge'],
  [17280, 'KeyTooLong'],
]);

interface CodedError {
  readonly code?: unknown;
  readonly errmsg?: unknown;
  readonly message?: unknown;
}

/** The codes of a bulk write's failed operations, or the error's own code. */
function codesOf(error: unknown): unknown[] {
  if (error instanceof MongoBulkWriteError) {
    const writeErrors = Array.isArray(error.writeErrors) ? error.writeErrors : [error.writeErrors];
    if (writeErrors.length > 0) return writeErrors.map((e) => e.code);
  }
  return [(error as CodedError).code];
}

/** The error as thrown, or a `RecordRejectedError` when a document's content caused it. */
export function classifyMongoError(error: unknown): unknown {
  if (typeof error !== 'object' || error === null) return error;
  const code = codesOf(error).find((c): c is number => typeof c === 'number' && DATA_ERROR_CODES.has(c));
  if (code === undefined) return error;
  const message = (error as CodedError).message;
  return new RecordRejectedError(
    { store: 'mongodb', code: String(code), constraint: DATA_ERROR_CODES.get(code)! },
    typeof message === 'string' ? message : String(error),
    { cause: error },
  );
}
