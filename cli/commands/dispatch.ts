/**
 * `shardflow dispatch`: technician dispatches in the Warm store (`actions/dispatch/`).
 *   dispatch list                open (or all, or one status) dispatches, by engineer and customer
 *   dispatch show ID             one dispatch and its history
 *   dispatch update ID           a new status and/or another engineer, checked against the state
 *                                machine (an invalid transition exits 2 naming both states)
 *   dispatch engineers import    the engineers file: engineers upserted, the listed regions' sites replaced
 */
import { type Command, InvalidArgumentError } from 'commander';
import {
  DispatchNotFoundError,
  listDispatches,
  readDispatch,
  updateDispatch,
} from '../../actions/dispatch/dispatches.ts';
import { importEngineers, loadEngineerFile } from '../../actions/dispatch/engineers.ts';
import { DispatchTransitionError } from '../../actions/dispatch/transitions.ts';
import { DISPATCH_STATUSES, type Dispatch, type DispatchStatus } from '../../actions/dispatch/types.ts';
import { errorMessage } from '../../topology/index.ts';
import { exitWithError, formatTable, positiveInteger, UsageError, withWarmStore } from './shared.ts';

function status(value: string): DispatchStatus {
  if (!(DISPATCH_STATUSES as readonly string[]).includes(value))
    throw new InvalidArgumentError(`expected one of ${DISPATCH_STATUSES.join(', ')}`);
  return value as DispatchStatus;
}

function listStatus(value: string): 'open' | 'all' | DispatchStatus {
  if (value === 'open' || value === 'all') return value;
  try {
    return status(value);
  } catch {
    throw new InvalidArgumentError(`expected open, all or one of ${DISPATCH_STATUSES.join(', ')}`);
  }
}

const iso = (ms: number) => new Date(ms).toISOString();

function printDispatches(dispatches: readonly Dispatch[]): void {
  if (dispatches.length === 0) {
    console.log('no dispatches');
    return;
  }
  const rows = [
    ['DISPATCH', 'STATUS', 'PRIORITY', 'ENGINEER', 'CUSTOMER', 'SITE', 'DEVICE', 'EPISODE', 'OPENED'],
  ];
  for (const d of dispatches)
    rows.push([
      d.dispatchId,
      d.status,
      d.priority,
      d.engineerId ?? '(waiting)',
      d.customerId ?? '-',
      d.siteId ?? '-',
      d.deviceId ?? '-',
      d.episodeId,
      iso(d.createdAt),
    ]);
  console.log(formatTable(rows));
}

/** Runs `work` on the migrated Warm store of `config`; the store's refusals as usage errors (exit 2). */
function withStore(config: string, work: Parameters<typeof withWarmStore<void>>[1]): Promise<void> {
  return withWarmStore(config, work).catch((error: unknown) =>
    exitWithError(
      error instanceof DispatchTransitionError || error instanceof DispatchNotFoundError
        ? new UsageError(error.message)
        : error,
    ),
  );
}

/** Registers `shardflow dispatch`. */
export function registerDispatchCommand(program: Command): void {
  const dispatch = program
    .command('dispatch')
    .description(
      'Technician dispatches: list and show them, move them through their statuses, import the engineers.',
    );
  const config = (c: Command) => c.requiredOption('-c, --config <file>', 'worker configuration (YAML): warm');

  config(dispatch.command('list'))
    .description('dispatches, high priority first, then the longest waiting')
    .option('--status <s>', `open (the default), all, or one of ${DISPATCH_STATUSES.join(', ')}`, listStatus)
    .option('--engineer <id>', 'only this engineer’s dispatches')
    .option('--customer <id>', 'only this customer’s dispatches')
    .option('--limit <n>', 'at most this many (default 1000)', positiveInteger)
    .option('--json', 'one JSON object per line, every field')
    .action(
      (opts: {
        config: string;
        status?: 'open' | 'all' | DispatchStatus;
        engineer?: string;
        customer?: string;
        limit?: number;
        json?: boolean;
      }) =>
        withStore(opts.config, async (warm) => {
          const dispatches = await listDispatches(warm.read, {
            status: opts.status ?? 'open',
            ...(opts.engineer === undefined ? {} : { engineerId: opts.engineer }),
            ...(opts.customer === undefined ? {} : { customerId: opts.customer }),
            ...(opts.limit === undefined ? {} : { limit: opts.limit }),
          });
          if (opts.json) for (const d of dispatches) console.log(JSON.stringify(d));
          else printDispatches(dispatches);
        }),
    );

  config(dispatch.command('show'))
    .description('one dispatch and its history')
    .argument('<id>', 'dispatch id')
    .option('--json', 'the dispatch and its history as JSON')
    .action((id: string, opts: { config: string; json?: boolean }) =>
      withStore(opts.config, async (warm) => {
        const found = await readDispatch(warm.read, id);
        if (found === undefined) throw new UsageError(`no dispatch ${id}`);
        if (opts.json) {
          console.log(JSON.stringify(found, null, 2));
          return;
        }
        printDispatches([found.dispatch]);
        console.log(`\nskills ${found.dispatch.skills.join(', ') || '-'}  reason ${found.dispatch.reason}\n`);
        const rows = [['SEQ', 'STATUS', 'ENGINEER', 'AT', 'BY', 'NOTE']];
        for (const h of found.history)
          rows.push([String(h.seq), h.status, h.engineerId ?? '-', iso(h.at), h.by, h.note ?? '-']);
        console.log(formatTable(rows));
      }),
    );

  config(dispatch.command('update'))
    .description(
      'move a dispatch on (assigned → accepted → en_route → on_site → resolved, or cancelled), or give it another engineer before on_site',
    )
    .argument('<id>', 'dispatch id')
    .option('--status <s>', `the new status (${DISPATCH_STATUSES.join(', ')})`, status)
    .option('--engineer <id>', 'assign this engineer (the dispatch goes back to assigned)')
    .requiredOption('--by <name>', 'who makes the change (recorded in the history)')
    .option('--note <text>', 'a note for the history')
    .action(
      (
        id: string,
        opts: { config: string; status?: DispatchStatus; engineer?: string; by: string; note?: string },
      ) => {
        if (opts.status === undefined && opts.engineer === undefined)
          exitWithError(new UsageError('dispatch update: give --status, --engineer or both'));
        return withStore(opts.config, async (warm) => {
          const d = await updateDispatch(warm.write, id, {
            ...(opts.status === undefined ? {} : { status: opts.status }),
            ...(opts.engineer === undefined ? {} : { engineerId: opts.engineer }),
            by: opts.by,
            ...(opts.note === undefined ? {} : { note: opts.note }),
            at: Date.now(),
          });
          console.log(`${d.dispatchId}: now ${d.status}, engineer ${d.engineerId ?? '(waiting)'}`);
        });
      },
    );

  config(dispatch.command('engineers').command('import'))
    .description(
      'import an engineers file: engineers upserted by id, the sites of the regions it lists replaced; problems name the file and line',
    )
    .argument('<file>', 'the engineers file (YAML)')
    .action((file: string, opts: { config: string }) => {
      let loaded: ReturnType<typeof loadEngineerFile>;
      try {
        loaded = loadEngineerFile(file);
      } catch (error) {
        exitWithError(new UsageError(`cannot read ${file}: ${errorMessage(error)}`));
      }
      if (loaded.problems) {
        for (const p of loaded.problems) console.log(`error ${p.file}:${p.line}: ${p.message}`);
        exitWithError(new UsageError('nothing imported: fix the file above'));
      }
      return withStore(opts.config, async (warm) => {
        const done = await warm.write.transaction((tx) => importEngineers(tx, loaded.value));
        console.log(
          `${file}: ${done.engineers} engineers, ${done.sites} sites in ${done.regions} regions imported`,
        );
      });
    });
}
