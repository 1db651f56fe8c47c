import { type RunningServices, startServices } from '../../infra/local/services.ts';

let services: RunningServices | undefined;

/** Starts the local servers once per run and hands their addresses to the test workers. */
export async function setup(): Promise<void> {
  const started = Date.now();
  services = await startServices();
  // Workers are forked after global setup and inherit process.env (checked with both forks and threads).
  Object.assign(process.env, services.env);
  console.log(`local services ready in ${Date.now() - started} ms`);
}

/** Stops the servers started by {@link setup}. */
export async function teardown(): Promise<void> {
  await services?.stop();
}
