import { defineConfig } from 'vitest/config';

// Two projects, run side by side: `unit` needs no servers; `integration` talks to real Redis,
// PostgreSQL, kinesalite and dynalite, which its global setup starts on loopback (or takes from
// SHARDFLOW_TEST_* variables).
//
// The unit files run in worker threads (the threads pool runs beside the forks pool; in one forks
// pool vitest runs all multi-fork files before the single-fork ones) and share one module cache
// (`isolate: false`): loading the project's modules once rather than once per file takes the unit run
// from about 138 to 85 CPU-seconds here; no unit test mocks a module or leaves a global changed. The
// integration files run one at a time in one fork: in parallel on two cores their timing-sensitive
// tests became flaky.
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
