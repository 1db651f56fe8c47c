import { describe, expect, it } from 'vitest';
import { isFatal, ManualClock, SINK_RETRY, withRetry } from '../../../topology/index.ts';

describe('withRetry', () => {
  it('retries a failing store without limit under the sink policy, but stops at once on a fatal error', async () => {
    const clock = new ManualClock(0);
    const signal = new AbortController().signal;
    const seen: number[] = [];

    let calls = 0;
    const flaky = withRetry(
      async () => {
        calls++;
        if (calls < 4) throw new Error('connection refused');
        return 'stored';
      },
      SINK_RETRY,
      clock,
      signal,
      (_, attempt) => seen.push(attempt),
    );
    while (calls < 4) {
      await new Promise((r) => setTimeout(r, 0));
      clock.advance(20_000);
    }
    expect(await flaky).toBe('stored');
    expect(seen).toEqual([1, 2, 3]);

    const lost = Object.assign(new Error('window state epoch vanished'), { fatal: true });
    expect(isFatal(lost)).toBe(true);
    expect(isFatal(new Error('timeout'))).toBe(false);
    let fatalCalls = 0;
    await expect(
      withRetry(
        async () => {
          fatalCalls++;
          throw lost;
        },
        SINK_RETRY,
        clock,
        signal,
        () => {},
      ),
    ).rejects.toBe(lost);
    expect(fatalCalls).toBe(1);
  });
});
