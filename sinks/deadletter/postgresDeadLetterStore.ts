/** The default dead-letter store: the Warm store's `dead_letters` table, one multi-row insert per chunk. */

import type { SqlClient } from '../postgres/sql.ts';
import type { DeadLetterStore } from './deadLetterStore.ts';
import { writeDeadLetters } from './postgresDeadLetters.ts';

/** Dead letters in PostgreSQL, on the Warm store's write endpoint; idempotent per stream position and node. */
export function postgresDeadLetterStore(client: SqlClient): DeadLetterStore {
  return {
    store: { name: 'warm.dead_letters', kind: 'postgresql' },
    write: (batch) => writeDeadLetters(client, batch),
  };
}
