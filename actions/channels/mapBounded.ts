/**
 * Bounded concurrency for the channels that send one request per action (e-mail, webhooks): a batch
 * of hundreds must not open hundreds of connections to one mail relay or one receiver.
 */

/**
 * `work` over `items` with at most `limit` running at once; the results in the items' order.
 *
 * @example const results = await mapBounded(batch, 4, (d) => sendOne(d));
 */
export async function mapBounded<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, lane));
  return results;
}
