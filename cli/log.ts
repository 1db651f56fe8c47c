/**
 * The CLI's logger: JSON lines (pino) by default, a readable single line per event with `pretty`.
 */
import pino from 'pino';
import pretty from 'pino-pretty';
import type { Logger } from '../topology/index.ts';

/** Log settings from the configuration or flags. */
export interface LogOptions {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly pretty: boolean;
}

/** A structured logger writing to stderr (stdout stays free for command output). */
export function createLogger(options: LogOptions): Logger & pino.Logger {
  const destination = options.pretty
    ? pretty({ destination: 2, sync: true, colorize: process.stderr.isTTY, ignore: 'pid,hostname' })
    : pino.destination({ fd: 2, sync: true });
  return pino({ level: options.level, base: { service: 'shardflow' } }, destination);
}
