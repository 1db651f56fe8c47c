import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDynalite, startKinesalite } from './emulators.ts';
import { startPostgres } from './postgres.ts';
import { startRedis } from './redis.ts';

/** The local services the integration tests can ask for. */
export type ServiceName = 'redis' | 'postgres' | 'kinesis' | 'dynamodb';

/** Services started by {@link startServices}: their connection variables and how to stop them. */
export interface RunningServices {
  env: Record<string, string>;
  stop(): Promise<void>;
}

/** The environment variable through which each service is reached (other code relies on these names). */
const SERVICE_ENV: Record<ServiceName, string> = {
  redis: 'SHARDFLOW_TEST_REDIS_URL',
  postgres: 'SHARDFLOW_TEST_POSTGRES_URL',
  kinesis: 'SHARDFLOW_TEST_KINESIS_ENDPOINT',
  dynamodb: 'SHARDFLOW_TEST_DYNAMODB_ENDPOINT',
};

const starters: Record<ServiceName, () => Promise<{ value: string; stop(): Promise<void> }>> = {
  redis: async () => {
    const s = await startRedis();
    return { value: s.url, stop: s.stop };
  },
  postgres: async () => {
    const s = await startPostgres();
    return { value: s.url, stop: s.stop };
  },
  kinesis: async () => {
    const s = await startKinesalite();
    return { value: s.endpoint, stop: s.stop };
  },
  dynamodb: async () => {
    const s = await startDynalite();
    return { value: s.endpoint, stop: s.stop };
  },
};

/** Starts the services (all, or `only`) on loopback; a service whose variable is already set is reused. */
export async function startServices(options: { only?: ServiceName[] } = {}): Promise<RunningServices> {
  const names = options.only ?? (Object.keys(starters) as ServiceName[]);
  const env: Record<string, string> = {};
  const stops: Array<() => Promise<void>> = [];
  const stop = async () => {
    await Promise.allSettled(stops.splice(0).map((s) => s()));
  };
  // Started in parallel: PostgreSQL's initdb dominates, the rest finish while it runs.
  const results = await Promise.allSettled(
    names.map(async (name) => {
      const variable = SERVICE_ENV[name];
      const given = process.env[variable];
      if (given) {
        env[variable] = given;
        return;
      }
      const started = await starters[name]();
      env[variable] = started.value;
      stops.push(started.stop);
    }),
  );
  const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  if (failures.length > 0) {
    await stop();
    if (failures.length === 1) throw failures[0];
    throw new AggregateError(failures, failures.map((f) => String(f)).join('\n'));
  }
  return { env, stop };
}

// `tsx infra/local/services.ts up`: keeps the services running in the foreground for manual work.
async function main(command: string | undefined): Promise<void> {
  if (command !== 'up') {
    console.error('usage: tsx infra/local/services.ts up');
    process.exitCode = 2;
    return;
  }
  const stateDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../.services');
  const envFile = path.join(stateDir, 'env');
  const services = await startServices();
  const lines = Object.entries(services.env).map(([k, v]) => `export ${k}=${v}`);
  mkdirSync(stateDir, { recursive: true });
  writeFileSync(path.join(stateDir, 'pid'), `${process.pid}\n`);
  writeFileSync(envFile, `${lines.join('\n')}\n`); // Written last: scripts/services.sh waits for it.
  console.log(lines.join('\n'));
  let stopping = false;
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    await services.stop();
    rmSync(envFile, { force: true });
    rmSync(path.join(stateDir, 'pid'), { force: true });
    process.exit(0);
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void shutdown());
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv[2]).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
