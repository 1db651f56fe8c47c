/**
 * Where dead letters go: one interface, with the PostgreSQL table (the default, which `shardflow dlq`
 * lists and replays) and an SQS queue (production) behind it, and one sink over either.
 *
 * Dead letters are the last stop of a record, so their sink must not stall a shard either: when the
 * store refuses a batch of them for what they hold (a reason quoting a NUL byte, say), the batch is
 * written again in a form that cannot be refused (see {@link storableDeadLetter}); if even that is
 * refused the worker stops with a message saying so, rather than retrying for ever.
 */
import {
  type DeadLetter,
  errorMessage,
  isPermanent,
  type Sink,
  type StoreRef,
  sanitizeText,
} from '../../topology/index.ts';

/** A dead-letter store: `write` resolves once every letter of the batch is stored. */
export interface DeadLetterStore {
  readonly store: StoreRef;
  write(batch: readonly DeadLetter[]): Promise<void>;
  close?(): Promise<void>;
}

/** The longest text kept in an identifying field (stream, shard, sequence number, code, spec, item). */
const MAX_ID_CHARS = 256;

/**
 * A dead letter every store accepts: each text field without control characters or broken UTF-16
 * and bounded in length, the reason noting the rewrite. The payload is base64 already, and the
 * position and node keep the letter's identity, so a replay still finds it stored.
 */
function storableDeadLetter(letter: DeadLetter): DeadLetter {
  const id = (text: string) => sanitizeText(text, MAX_ID_CHARS);
  return {
    ...letter,
    node: id(letter.node),
    reason: `${sanitizeText(letter.reason)} [text sanitised: the store refused the dead letter as it was]`,
    stream: id(letter.stream),
    shardId: id(letter.shardId),
    sequenceNumber: id(letter.sequenceNumber),
    ...(letter.code !== undefined ? { code: id(letter.code) } : {}),
    ...(letter.specId !== undefined ? { specId: id(letter.specId) } : {}),
    ...(letter.item !== undefined ? { item: id(letter.item) } : {}),
  };
}

/** The dead-letter store refused even sanitised letters: stop, a retry would refuse them again. */
class DeadLettersRefusedError extends Error {
  override readonly name = 'DeadLettersRefusedError';
  /** Stops the worker at once (see the runtime's `isFatal`). */
  readonly fatal = true;
}

/** The dead-letter sink over a store (on-write: durable when `write` resolves). */
export function deadLetterStoreSink(store: DeadLetterStore): Sink<DeadLetter> {
  return {
    type: `dead-letters-${store.store.kind}`,
    stores: [store.store],
    durability: 'on-write',
    async write(batch) {
      if (batch.length === 0) return;
      try {
        await store.write(batch);
      } catch (error) {
        if (!isPermanent(error)) throw error;
        try {
          await store.write(batch.map(storableDeadLetter));
        } catch (again) {
          if (!isPermanent(again)) throw again;
          throw new DeadLettersRefusedError(
            `${store.store.name} refused ${batch.length} dead letter(s) even with sanitised text (${errorMessage(again)}); first refusal: ${errorMessage(error)}`,
            { cause: again },
          );
        }
      }
    },
    close: () => store.close?.(),
  };
}
