/**
 * `shardflow replay`: moves shards' checkpoints in the lease table so that records are delivered
 * again, while the workers run. Each moved lease is freed: its holder loses it at its next renewal,
 * and whoever takes it next reads from the new checkpoint.
 */
import { type Command, InvalidArgumentError, Option } from 'commander';
import {
  applyReplay,
  describeCheckpoint,
  planReplay,
  type ReplayFrom,
  type ReplayPlan,
  ReplayPlanError,
} from '../../sources/kinesis/checkpoint/replay.ts';
import { SavepointStore } from '../../sources/kinesis/checkpoint/savepoints.ts';
import { systemClock } from '../../topology/index.ts';
import { EXIT } from '../exitCodes.ts';
import { createLogger } from '../log.ts';
import { workerKeyedStateStore } from '../stateConfig.ts';
import {
  type CommonOptions,
  exitWithError,
  formatTable,
  loadCommandConfig,
  openLeaseTable,
  UsageError,
  withCommonOptions,
} from './shared.ts';

interface ReplayOptions extends CommonOptions {
  readonly shards?: string[];
  readonly fromTimestamp?: number;
  readonly fromSequence?: string;
  readonly fromSavepoint?: string;
  readonly dryRun?: boolean;
}

function timestamp(value: string): number {
  const ms = Date.parse(value);
  if (Number.isNaN(ms))
    throw new InvalidArgumentError('expected an ISO 8601 time, e.g. 2024-05-01T10:00:00Z');
  return ms;
}

function sequenceNumber(value: string): string {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('expected a Kinesis sequence number (digits)');
  return value;
}

function shardList(value: string): string[] {
  const ids = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (ids.length === 0) throw new InvalidArgumentError('expected shard ids separated by commas');
  return ids;
}

function printPlan(plan: ReplayPlan): void {
  const rows = [['shard', 'checkpoint now', 'new checkpoint']];
  for (const step of plan.steps) {
    rows.push([
      step.shardId,
      describeCheckpoint(step.lease.checkpoint, step.lease.startTimestamp),
      describeCheckpoint(step.checkpoint, step.startTimestamp) + (step.note ? `  (${step.note})` : ''),
    ]);
  }
  console.log(formatTable(rows));
  for (const { shardId, reason } of plan.skipped) console.log(`skipped ${shardId}: ${reason}`);
}

/**
 * Replaced first: each replayed shard's keyed state by an empty one at its new checkpoint, so that its
 * state is rebuilt from the records read again. This also fences the shard's current holder out of
 * the state: it cannot snapshot (nor checkpoint) again before it loses the lease. The embedded store
 * lives in its worker's process: nothing to reset from here.
 */
async function resetKeyedState(
  config: ReturnType<typeof loadCommandConfig>,
  plan: ReplayPlan,
): Promise<void> {
  if (config.state.backend !== 'redis' || plan.steps.length === 0) return;
  const log = createLogger({ ...config.log, pretty: false });
  const store = workerKeyedStateStore(config.state, {
    topologyName: config.topology.name,
    log,
    clock: systemClock,
  });
  await store.open();
  try {
    for (const step of plan.steps)
      await store.reset(step.shardId, 'position' in step.checkpoint ? step.checkpoint.position : undefined);
  } finally {
    await store.close();
  }
  console.log(`reset the keyed state of ${plan.steps.length} shards to their new checkpoints`);
}

/** Registers `replay` on the program. */
export function registerReplayCommand(program: Command): void {
  const only = (name: string) =>
    ['fromTimestamp', 'fromSequence', 'fromSavepoint'].filter((other) => other !== name);
  withCommonOptions(
    program
      .command('replay')
      .description(
        'deliver records again: move shards’ checkpoints in the lease table; running workers lose those leases at their next renewal and read again from the new checkpoints',
      ),
  )
    .option(
      '--shards <ids>',
      'only these shards (comma-separated); every leased shard when absent',
      shardList,
    )
    .addOption(
      new Option('--from-timestamp <iso>', 'every record that arrived at or after this time')
        .argParser(timestamp)
        .conflicts(only('fromTimestamp')),
    )
    .addOption(
      new Option(
        '--from-sequence <n>',
        'the records after this sequence number (a checkpoint means "done up to here"); needs --shards with its one shard',
      )
        .argParser(sequenceNumber)
        .conflicts(only('fromSequence')),
    )
    .addOption(
      new Option('--from-savepoint <name>', 'each shard’s checkpoint as the savepoint recorded it').conflicts(
        only('fromSavepoint'),
      ),
    )
    .option('--dry-run', 'print the plan and change nothing')
    .action(async (opts: ReplayOptions, command: Command) => {
      try {
        await replay(opts, command);
      } catch (error) {
        exitWithError(error instanceof ReplayPlanError ? new UsageError(error.message) : error);
      }
    });
}

async function replay(opts: ReplayOptions, command: Command): Promise<void> {
  if (opts.fromTimestamp === undefined && opts.fromSequence === undefined && opts.fromSavepoint === undefined)
    command.error('error: give one of --from-timestamp, --from-sequence or --from-savepoint');
  const config = loadCommandConfig(opts);
  const stream = config.source.kinesis.streamName;
  const table = openLeaseTable(config, opts.config, 'replay');
  try {
    let source: ReplayFrom;
    if (opts.fromTimestamp !== undefined) {
      if (opts.fromTimestamp > Date.now())
        throw new UsageError(
          `--from-timestamp ${new Date(opts.fromTimestamp).toISOString()} is in the future`,
        );
      source = { type: 'timestamp', timestamp: opts.fromTimestamp };
    } else if (opts.fromSequence !== undefined) {
      source = { type: 'sequence', sequenceNumber: opts.fromSequence };
    } else {
      const name = opts.fromSavepoint!;
      const store = new SavepointStore(table.dynamodb, table.refresher.tableName, systemClock);
      const savepoint = await table.call(() => store.get(name));
      if (savepoint === undefined)
        throw new UsageError(
          `no savepoint named "${name}" in ${store.tableName} (see: shardflow savepoint list)`,
        );
      if (savepoint.stream !== stream)
        throw new UsageError(`savepoint "${name}" was taken on stream ${savepoint.stream}, not ${stream}`);
      source = { type: 'savepoint', savepoint };
    }
    const leases = await table.call(() => table.refresher.listLeases());
    const plan = planReplay(leases, {
      from: source,
      ...(opts.shards === undefined ? {} : { shards: opts.shards }),
    });
    console.log(`replay of stream ${stream} (lease table ${table.refresher.tableName})`);
    printPlan(plan);
    if (opts.dryRun) {
      console.log('dry run: nothing changed');
      return;
    }
    await resetKeyedState(config, plan);
    const outcomes = await table.call(() => applyReplay(table.refresher, plan));
    const failed = outcomes.filter((o) => !o.applied);
    for (const o of outcomes) if (!o.applied) console.error(`shardflow: ${o.shardId} not moved: ${o.error}`);
    console.log(
      `moved ${outcomes.length - failed.length} of ${outcomes.length} shards; their workers read again from the new checkpoints`,
    );
    if (failed.length > 0) process.exitCode = EXIT.failed;
  } finally {
    table.dynamodb.destroy();
  }
}
