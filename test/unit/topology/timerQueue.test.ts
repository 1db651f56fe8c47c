/**
 * The timer queue against a brute-force model: random registrations, deletions and takes, with many
 * duplicate keys and timestamps, must give the same timers in the same order.
 */
import { describe, expect, it } from 'vitest';
import { TimerQueue } from '../../../topology/runtime/timerQueue.ts';

/** A small deterministic generator (mulberry32), so a failure can be replayed. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('TimerQueue', () => {
  it('takes timers in timestamp order, then registration order, one per key and timestamp', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const next = random(seed);
      const queue = new TimerQueue();
      // the model: live timers in registration order
      let model: { key: string; timestamp: number }[] = [];
      let now = 0;
      for (let step = 0; step < 5_000; step++) {
        const key = `k${Math.floor(next() * 20)}`;
        const timestamp = now + Math.floor(next() * 50);
        const roll = next();
        if (roll < 0.55) {
          queue.add(key, timestamp);
          if (!model.some((t) => t.key === key && t.timestamp === timestamp)) model.push({ key, timestamp });
        } else if (roll < 0.85) {
          queue.delete(key, timestamp);
          model = model.filter((t) => !(t.key === key && t.timestamp === timestamp));
        } else {
          now += Math.floor(next() * 20);
          const expected = model
            .map((t, order) => ({ ...t, order }))
            .filter((t) => t.timestamp <= now)
            .sort((a, b) => a.timestamp - b.timestamp || a.order - b.order)
            .map(({ key, timestamp }) => ({ key, timestamp }));
          model = model.filter((t) => t.timestamp > now);
          expect(queue.takeDue(now)).toEqual(expected);
        }
        expect(queue.size).toBe(model.length);
        const earliest = model.length === 0 ? undefined : Math.min(...model.map((t) => t.timestamp));
        expect(queue.peek()).toBe(earliest);
      }
    }
  });
});
