/**
 * The exit codes of every `shardflow` command, and the error that means code 3, in a module of their
 * own: a command that does not run the worker uses them without loading it (about 2 s of imports).
 */
import { errorMessage } from '../topology/logger.ts';

export const EXIT = { done: 0, failed: 1, usage: 2, service: 3 } as const;

/** A service the worker or a command needs did not answer (exit code `EXIT.service`). */
export class ServiceUnavailableError extends Error {
  override readonly name = 'ServiceUnavailableError';
  constructor(service: string, key: string, address: string, cause: unknown) {
    super(`cannot reach ${service} (${key}) at ${address}: ${errorMessage(cause)}`, { cause });
  }
}
