/** Polling helpers for integration tests (real servers answer in their own time). */

/** Resolves once `condition` holds; throws after `timeoutMs`, naming what it waited for. */
export async function waitFor(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The value of a variable the integration setup provides; fails loudly when it is missing. */
export function testEnv(name: string): string {
  const value = process.env[name];
  if (!value)
    throw new Error(
      `${name} is not set: run the integration tests through vitest (its global setup starts the services)`,
    );
  return value;
}
