/**
 * kinesalite or dynalite in a process of its own, as a benchmark's stand-in for an AWS service:
 * prints `{"endpoint": URL}` on one line, then serves until killed. Each runs alone, as Kinesis and
 * DynamoDB do: lease renewals and checkpoints do not wait behind GetRecords pages being built.
 *
 *   node --import tsx bench/emulators.ts kinesis|dynamodb
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startDynalite, startKinesalite } from '../infra/local/emulators.ts';

/** Starts this file as a process serving one emulator; resolves with its endpoint. */
export async function startEmulator(
  service: 'kinesis' | 'dynamodb',
): Promise<{ child: ChildProcess; endpoint: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), service], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const first = await createInterface({ input: child.stdout! })[Symbol.asyncIterator]().next();
  if (first.done) throw new Error(`the ${service} emulator process exited before printing its endpoint`);
  return { child, endpoint: (JSON.parse(first.value as string) as { endpoint: string }).endpoint };
}

async function serve(service: string): Promise<void> {
  if (service !== 'kinesis' && service !== 'dynamodb') {
    console.error('usage: emulators.ts kinesis|dynamodb');
    process.exit(2);
  }
  const started = service === 'kinesis' ? await startKinesalite() : await startDynalite();
  console.log(JSON.stringify({ endpoint: started.endpoint }));
  process.on('SIGTERM', () => process.exit(0));
}

// Run as a script (not imported): serve the emulator named on the command line.
if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1])
  await serve(process.argv[2] ?? '');
