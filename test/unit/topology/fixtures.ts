/** Small operators and sinks the topology tests share. */
import type { Operator, Sink } from '../../../topology/index.ts';

/** Doubles every number; numbers below zero go to the `dlq` side output. */
export function doubler(): Operator<number, number, { dlq: string }> {
  return {
    type: 'doubler',
    sideOutputs: ['dlq'],
    process: (batch, ctx) => {
      const out: number[] = [];
      for (const n of batch) {
        if (n < 0) ctx.side('dlq', `negative: ${n}`);
        else out.push(n * 2);
      }
      return out;
    },
  };
}

/** Formats numbers as strings. */
export function toText(): Operator<number, string> {
  return { type: 'to-text', process: (batch) => batch.map((n) => String(n)) };
}

/** A sink that keeps everything in an array, after an optional delay per batch. */
export function arraySink<T>(into: T[], delay?: () => Promise<void>): Sink<T> {
  return {
    type: 'array',
    stores: [{ name: 'memory.array', kind: 'memory' }],
    write: async (batch) => {
      if (delay) await delay();
      into.push(...batch);
    },
  };
}
