/**
 * The logging contract components and the runtime write to (pino's shape: fields first, then the
 * message). The CLI supplies a JSON-lines or pretty logger; tests use `silentLogger`.
 */

/** Structured logger: `log.info({ shardId }, 'shard opened')`. */
export interface Logger {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

const ignore = () => {};
/** A logger that drops everything. */
export const silentLogger: Logger = { debug: ignore, info: ignore, warn: ignore, error: ignore };

/** A short printable form of any thrown value. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
