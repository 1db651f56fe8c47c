/** Option parsers, signals and the ending of the long-running commands (`run`, `demo`). */
import { InvalidArgumentError } from 'commander';
import { exitWithError } from './shared.ts';

/** An option parser for an integer from `min` to `max`. */
export function integer(min: number, max: number) {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`);
    }
    return n;
  };
}

/** An option parser for a number from 0 to 1. */
export function fraction(value: string): number {
  const n = Number(value);
  if (!(n >= 0 && n <= 1)) throw new InvalidArgumentError('expected a number from 0 to 1');
  return n;
}

/** Ends a long-running command (the worker, the demo): an error it cannot explain prints its stack. */
export function fail(error: unknown): never {
  exitWithError(error, { stack: true });
}

/** Resolves on the first SIGINT or SIGTERM. */
export function onSignal(): { signal: AbortSignal } {
  const controller = new AbortController();
  const stop = () => controller.abort(new Error('signal'));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return { signal: controller.signal };
}
