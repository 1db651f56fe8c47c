/**
 * `shardflow savepoint create|list|show`: named copies of every shard's checkpoint, kept in
 * `<leaseTable>-savepoints`, which `shardflow replay --from-savepoint NAME` restores.
 */
import type { Command } from 'commander';
import { describeCheckpoint } from '../../sources/kinesis/checkpoint/replay.ts';
import { SavepointExistsError, SavepointStore } from '../../sources/kinesis/checkpoint/savepoints.ts';
import { systemClock } from '../../topology/index.ts';
import {
  type CommonOptions,
  exitWithError,
  formatTable,
  type LeaseTableAccess,
  loadCommandConfig,
  openLeaseTable,
  UsageError,
  withCommonOptions,
} from './shared.ts';

type Action = (
  table: LeaseTableAccess,
  store: SavepointStore,
  stream: string,
  name: string | undefined,
) => Promise<void>;

/** Opens the lease table and its savepoint store around one subcommand's work. */
function run(subcommand: string, action: Action) {
  return async (...args: unknown[]) => {
    const name = typeof args[0] === 'string' ? args[0] : undefined;
    const opts = args[name === undefined ? 0 : 1] as CommonOptions;
    try {
      const config = loadCommandConfig(opts);
      const table = openLeaseTable(config, opts.config, `savepoint ${subcommand}`);
      try {
        const store = new SavepointStore(table.dynamodb, table.refresher.tableName, systemClock);
        await action(table, store, config.source.kinesis.streamName, name);
      } finally {
        table.dynamodb.destroy();
      }
    } catch (error) {
      exitWithError(error);
    }
  };
}

const created = (ms: number) => new Date(ms).toISOString();

/** Registers `savepoint create|list|show` on the program. */
export function registerSavepointCommand(program: Command): void {
  const savepoint = program
    .command('savepoint')
    .description('record every shard’s checkpoint under a name, to replay from it later');

  withCommonOptions(
    savepoint.command('create').argument('<name>', 'a new name (existing ones are never overwritten)'),
  )
    .description('record every shard’s checkpoint now')
    .action(
      run('create', async (table, store, stream, name) => {
        const leases = await table.call(() => table.refresher.listLeases());
        if (leases.length === 0)
          throw new UsageError(
            `the lease table ${table.refresher.tableName} has no leases yet: nothing to save`,
          );
        const sp = await table
          .call(() => store.create(name!, stream, leases))
          .catch((error: unknown) => {
            throw error instanceof SavepointExistsError ? new UsageError(error.message) : error;
          });
        console.log(
          `savepoint ${sp.name}: ${sp.shards.size} shards of ${sp.stream} at ${created(sp.createdAt)}`,
        );
        console.log(`kept in ${store.tableName}`);
      }),
    );

  withCommonOptions(savepoint.command('list'))
    .description('list the savepoints, oldest first')
    .action(
      run('list', async (table, store) => {
        const all = await table.call(() => store.list());
        if (all.length === 0) {
          console.log(`no savepoints in ${store.tableName}`);
          return;
        }
        const rows = [['name', 'stream', 'created', 'shards']];
        for (const sp of all) rows.push([sp.name, sp.stream, created(sp.createdAt), String(sp.shards.size)]);
        console.log(formatTable(rows));
      }),
    );

  withCommonOptions(savepoint.command('show').argument('<name>', 'the savepoint'))
    .description('print a savepoint’s checkpoints')
    .action(
      run('show', async (table, store, _stream, name) => {
        const sp = await table.call(() => store.get(name!));
        if (sp === undefined) throw new UsageError(`no savepoint named "${name}" in ${store.tableName}`);
        console.log(`savepoint ${sp.name} of stream ${sp.stream}, created ${created(sp.createdAt)}`);
        const rows = [['shard', 'checkpoint']];
        for (const [shardId, saved] of sp.shards)
          rows.push([shardId, describeCheckpoint(saved.checkpoint, saved.startTimestamp)]);
        console.log(formatTable(rows));
      }),
    );
}
