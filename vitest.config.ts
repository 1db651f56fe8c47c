import { defineConfig } from 'vitest/config';

// Two projects, one after the other: `unit` needs no servers; `integration` talks to real Redis,
// PostgreSQL, kinesalite and dynalite, which its global setup starts on loopback (or takes from
// SHARDFLOW_TEST_* variables).
//
// The unit files share one module cache (`isolate: false`): loading the project's modules once rather
// than once per file takes the unit run from about 138 to 85 CPU-seconds here; no unit test mocks a
// module or leaves a global changed. They run before the integration files (`groupOrder`), which
// run one at a time in one fork: on two cores, running either beside the timing-sensitive
// integration files only slowed those by as much as it saved.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts', 'test/types/**/*.test.ts'],
          testTimeout: 20_000,
          pool: 'threads',
          isolate: false,
          sequence: { groupOrder: 0 },
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
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
