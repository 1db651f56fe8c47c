/**
 * Bounded concurrency for the channels: a batch of hundreds must not open hundreds of connections to
 * one mail relay, one receiver or one AWS endpoint.
 */

/**
 * `work` over every item with at most `limit` calls in flight, results in the items' order. The
 * first failure stops new calls; it is rethrown once those in flight have ended.
 *
 * @example const results = await mapBounded(batch, 4, (d) => sendOne(d));
 */
export async function mapBounded<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const lane = async () => {
    while (failure === undefined && next < items.length) {
      const index = next++;
      try {
        results[index] = await work(items[index]!, index);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, lane));
  if (failure) throw failure.error;
  return results;
}
