import { defineConfig } from 'vitest/config';

// Two projects: `unit` needs no servers; `integration` talks to real Redis, PostgreSQL, kinesalite and
// dynalite, which its global setup starts on loopback (or takes from SHARDFLOW_TEST_* variables).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          pool: 'threads',
          include: ['test/unit/**/*.test.ts', 'test/types/**/*.test.ts'],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/integration/services.setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          poolOptions: { forks: { singleFork: true } },
        },
      },
    ],
  },
});
