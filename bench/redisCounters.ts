/**
 * What a Redis server has spent so far, read with `INFO` on a connection of the benchmark's own: its
 * CPU (user + system, every client's work and its own) and the time it spent running scripts. A
 * benchmark reads them before and after its work; on a server it started itself the difference is
 * that work's cost.
 */
import type { Redis } from 'ioredis';

/** A Redis server's counters at one moment. */
export interface RedisCounters {
  /** CPU seconds the server has used (`used_cpu_user` + `used_cpu_sys`). */
  readonly cpu: number;
  /** Microseconds spent in `EVALSHA` and `EVAL` (`commandstats`): time the server served no one else. */
  readonly scriptUs: number;
  /** Bytes the server holds (`used_memory`). */
  readonly usedMemory: number;
}

/** Reads a Redis server's CPU, script time and memory. */
export async function redisCounters(redis: Redis): Promise<RedisCounters> {
  const [cpu, stats, memory] = [
    await redis.info('cpu'),
    await redis.info('commandstats'),
    await redis.info('memory'),
  ];
  const field = (text: string, pattern: RegExp) => Number(text.match(pattern)?.[1] ?? 0);
  return {
    cpu: field(cpu, /used_cpu_user:([\d.]+)/) + field(cpu, /used_cpu_sys:([\d.]+)/),
    scriptUs:
      field(stats, /cmdstat_evalsha:calls=\d+,usec=(\d+)/) +
      field(stats, /cmdstat_eval:calls=\d+,usec=(\d+)/),
    usedMemory: field(memory, /used_memory:(\d+)/),
  };
}
