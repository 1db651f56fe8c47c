/**
 * Where dead letters go: one interface, with the PostgreSQL table (the default, which `shardflow dlq`
 * lists and replays) and an SQS queue (production) behind it, and one sink over either.
 */
import type { DeadLetter, Sink, StoreRef } from '../../topology/index.ts';

/** A dead-letter store: `write` resolves once every letter of the batch is stored. */
export interface DeadLetterStore {
  readonly store: StoreRef;
  write(batch: readonly DeadLetter[]): Promise<void>;
  close?(): Promise<void>;
}

/** The dead-letter sink over a store (on-write: durable when `write` resolves). */
export function deadLetterStoreSink(store: DeadLetterStore): Sink<DeadLetter> {
  return {
    type: `dead-letters-${store.store.kind}`,
    stores: [store.store],
    durability: 'on-write',
    async write(batch) {
      if (batch.length > 0) await store.write(batch);
    },
    close: () => store.close?.(),
  };
}
