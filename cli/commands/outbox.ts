/**
 * `shardflow outbox`: the actions that follow alarms, as the outbox holds them (`actions/outbox/`).
 *   outbox list    rows by due time, newest first: filter by status, episode, customer
 *   outbox retry   failed rows (all, or the keys given) back to pending, due now
 */
import { type Command, InvalidArgumentError } from 'commander';
import { type ActionStatus, listActions, retryFailed } from '../../actions/outbox/outboxTable.ts';
import { exitWithError, formatTable, positiveInteger, withWarmStore } from './shared.ts';

const STATUSES: readonly ActionStatus[] = [
  'pending',
  'sent',
  'cancelled',
  'failed',
  'skipped',
  'digested',
  'expired',
];

function status(value: string): ActionStatus {
  if (!(STATUSES as readonly string[]).includes(value))
    throw new InvalidArgumentError(`expected one of ${STATUSES.join(', ')}`);
  return value as ActionStatus;
}

const iso = (ms: number | null) => (ms === null ? '-' : new Date(ms).toISOString());

/** Registers `shardflow outbox`. */
export function registerOutboxCommand(program: Command): void {
  const outbox = program.command('outbox').description('the actions that follow alarms (the outbox in Warm)');
  outbox
    .command('list')
    .description('outbox rows by due time, newest first')
    .requiredOption('-c, --config <file>', 'worker configuration (YAML): the Warm store')
    .option('--status <status>', `only rows in this status (${STATUSES.join(', ')})`, status)
    .option('--episode <id>', "only this episode's rows")
    .option('--customer <id>', "only this customer's rows")
    .option('--limit <n>', 'at most this many rows', positiveInteger, 100)
    .option('--json', 'JSON lines, every column and the payload')
    .action(
      async (opts: {
        config: string;
        status?: ActionStatus;
        episode?: string;
        customer?: string;
        limit: number;
        json?: boolean;
      }) => {
        try {
          const rows = await withWarmStore(opts.config, (store) =>
            listActions(store.read, {
              status: opts.status,
              episodeId: opts.episode,
              customerId: opts.customer,
              limit: opts.limit,
            }),
          );
          if (opts.json) {
            for (const r of rows) console.log(JSON.stringify(r));
            return;
          }
          console.log(
            formatTable([
              ['due', 'status', 'attempts', 'key', 'result / last error'],
              ...rows.map((r) => [
                iso(r.dueAt),
                r.status,
                String(r.attempts),
                r.key,
                (r.status === 'failed' || r.status === 'pending' ? r.lastError : r.result) ?? '',
              ]),
            ]),
          );
        } catch (error) {
          exitWithError(error);
        }
      },
    );
  outbox
    .command('retry')
    .description('failed rows back to pending, due now (every failed row when no key is given)')
    .argument('[keys...]', 'the rows’ keys')
    .requiredOption('-c, --config <file>', 'worker configuration (YAML): the Warm store')
    .action(async (keys: string[], opts: { config: string }) => {
      try {
        const retried = await withWarmStore(opts.config, (store) =>
          retryFailed(store.write, Date.now(), keys.length === 0 ? undefined : keys),
        );
        for (const key of retried) console.log(key);
        console.error(`${retried.length} row(s) due again`);
      } catch (error) {
        exitWithError(error);
      }
    });
}
