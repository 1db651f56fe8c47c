/**
 * `OpenContext.published`: what every shard of one node published with its snapshots, read from the
 * state store. A field of a published map state is the group `[node, state, field]` (as
 * `nodeState.ts` publishes it), decoded with the state's codec.
 */
import {
  jsonCodec,
  type PublishedState,
  type StateCodec,
  type StateDescriptor,
  type StateStore,
} from '../keyedState.ts';
import { publishedGroup } from './nodeState.ts';

/**
 * The published state of `node`, whose states are `descriptors`, in `store`; none when the node
 * publishes no state or the runtime has no store.
 */
export function publishedStateOf(
  store: StateStore | undefined,
  node: string,
  descriptors: readonly StateDescriptor[] | undefined,
): PublishedState | undefined {
  if (store === undefined || descriptors === undefined) return undefined;
  const codecs = new Map<string, StateCodec<unknown>>();
  for (const d of descriptors)
    if (d.publish !== undefined) codecs.set(d.name, (d.codec ?? jsonCodec()) as StateCodec<unknown>);
  if (codecs.size === 0) return undefined;
  return {
    read: async function readPublished<T>(state: string, fields: readonly string[]) {
      const codec = codecs.get(state);
      if (codec === undefined) throw new Error(`node "${node}" does not publish state "${state}"`);
      const groups = fields.map((field) => publishedGroup(node, state, field));
      const stored = await store.readPublished(groups);
      const read = new Map<string, Map<string, T>>();
      fields.forEach((field, i) => {
        const byShard = stored.get(groups[i]!);
        if (byShard === undefined || byShard.size === 0) return;
        const values = new Map<string, T>();
        for (const [shardId, bytes] of byShard) values.set(shardId, codec.decode(bytes) as T);
        read.set(field, values);
      });
      return read;
    },
    watermarks: () => store.publishedWatermarks(node),
  };
}
