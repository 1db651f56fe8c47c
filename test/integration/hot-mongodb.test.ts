/**
 * The MongoDB / DocumentDB Hot store on the shared conformance suite. No MongoDB server can be
 * installed on these machines (it is not in Debian, and the test-server packages download binaries
 * at run time), so this file runs only where MONGODB_URI points at a server (a DocumentDB cluster
 * through a tunnel, or a local mongod); otherwise it is reported as skipped with that reason.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { escapeFieldName, unescapeFieldName } from '../../sinks/hot/mongoHotStore.ts';
import { hotStoreConfigSchema, openHotStore } from '../../sinks/hot/openHotStore.ts';
import { hotConformance } from '../support/hotConformance.ts';

const MONGODB_URI = process.env.MONGODB_URI;

describe('MongoDB field names', () => {
  it('escapes metric names that could act as operators or paths, and restores them', () => {
    for (const name of ['$where', 'a.b', '%24', 'plain', '$.%.$'])
      expect(unescapeFieldName(escapeFieldName(name))).toBe(name);
    expect(escapeFieldName('$set.x')).toBe('%24set%2Ex');
    expect(escapeFieldName('$set.x')).not.toMatch(/[$.]/);
  });
});

describe.skipIf(MONGODB_URI === undefined)(
  'MongoDB Hot store (skipped: MONGODB_URI is not set; no MongoDB server can be installed on this machine)',
  () => {
    hotConformance(
      'mongodb',
      async () => {
        const database = `shardflow_it_${randomUUID().slice(0, 8)}`;
        const store = await openHotStore(
          hotStoreConfigSchema.parse({ kind: 'mongodb', writeUrl: MONGODB_URI, database, retentionDays: 10 }),
        );
        return {
          store,
          cleanup: async () => {
            const { MongoClient } = await import('mongodb');
            const admin = new MongoClient(MONGODB_URI!, { retryWrites: false });
            await admin.db(database).dropDatabase();
            await admin.close();
            await store.close();
          },
        };
      },
      { replayRecords: 100_000 },
    );
  },
);
