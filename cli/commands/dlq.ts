/**
 * `shardflow dlq`: the dead letters in the Warm store.
 *   dlq list    newest first, filtered by reason code, product and time
 *   dlq show    one dead letter, every column, its payload and envelope
 *   dlq replay  re-decodes the decode stage's dead letters with the specs in force now (after a spec
 *               fix) and puts the original bytes of those that decode back on the stream, where the
 *               running workers process them like any record; they are then marked replayed, so
 *               a second replay skips them (unless `--again`)
 */

import { type Command, InvalidArgumentError } from 'commander';
import { devicePartitionKey } from '../../gateways/kinesis/producer.ts';
import { readIncoming } from '../../operators/decode/envelope.ts';
import { DecodeError, REASON_CODES } from '../../operators/decode/errors.ts';
import type { SpecRegistry } from '../../operators/decode/registry.ts';
import type { DeviceRegistry } from '../../operators/decodeBySpec.ts';
import {
  type DeadLetterFilter,
  envelopeOf,
  getDeadLetter,
  listDeadLetters,
  markReplayed,
  type StoredDeadLetter,
} from '../../sinks/deadletter/deadLetterQueries.ts';
import { migrateWarm } from '../../sinks/postgres/migrate.ts';
import { describeEndpoint, openWarmStore, type WarmStore } from '../../sinks/postgres/store.ts';
import { pgDeviceProducts } from '../../sinks/warm/masterdata/deviceProducts.ts';
import { type RawRecord, silentLogger, systemClock } from '../../topology/index.ts';
import { loadWorkerConfig, type WorkerConfig } from '../config.ts';
import { EXIT, ServiceUnavailableError } from '../exitCodes.ts';
import { putOnStream } from './putOnStream.ts';
import { exitWithError, formatTable, UsageError } from './shared.ts';

/** The node whose dead letters a spec fix can recover. */
const DECODE_NODE = 'decode';

interface FilterOptions {
  readonly config: string;
  readonly reason?: string;
  readonly product?: string;
  readonly since?: Date;
}

function reasonCode(value: string): string {
  if (!(REASON_CODES as readonly string[]).includes(value))
    throw new InvalidArgumentError(`unknown reason code (one of ${REASON_CODES.join(', ')})`);
  return value;
}

function isoTime(value: string): Date {
  const ms = Date.parse(value);
  if (Number.isNaN(ms))
    throw new InvalidArgumentError('expected an ISO 8601 time, e.g. 2024-05-01T10:00:00Z');
  return new Date(ms);
}

function limit(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 100_000)
    throw new InvalidArgumentError('expected an integer from 1 to 100000');
  return n;
}

function withFilters(command: Command): Command {
  return command
    .requiredOption(
      '-c, --config <file>',
      'worker configuration (YAML): warm, source.kinesis, decode.specDir',
    )
    .option('--reason <code>', 'only this reason code (e.g. contract-range)', reasonCode)
    .option('--product <id>', 'only this product (the spec id, or the envelope’s productId)')
    .option('--since <iso>', 'only dead letters that failed at or after this time', isoTime);
}

function filterOf(opts: FilterOptions): DeadLetterFilter {
  return {
    ...(opts.reason === undefined ? {} : { code: opts.reason }),
    ...(opts.product === undefined ? {} : { product: opts.product }),
    ...(opts.since === undefined ? {} : { since: opts.since }),
  };
}

/** Opens the Warm store, turning "no answer" into {@link ServiceUnavailableError} (exit 3). */
async function openStore(config: WorkerConfig): Promise<WarmStore> {
  const warm = openWarmStore(config.warm);
  const reach = async (key: string, url: string, work: () => Promise<unknown>) => {
    try {
      await work();
    } catch (error) {
      await warm.close().catch(() => {});
      throw new ServiceUnavailableError('PostgreSQL', key, describeEndpoint(url), error);
    }
  };
  // the column replay marks may be newer than the worker that created the table
  await reach('warm.writeUrl', config.warm.writeUrl, () => migrateWarm(warm.write));
  if (config.warm.readUrl !== undefined)
    await reach('warm.readUrl', config.warm.readUrl, () => warm.read.query('SELECT 1'));
  return warm;
}

async function withStore(file: string, work: (warm: WarmStore, config: WorkerConfig) => Promise<void>) {
  try {
    const config = loadWorkerConfig(file);
    const warm = await openStore(config);
    try {
      await work(warm, config);
    } finally {
      await warm.close();
    }
  } catch (error) {
    exitWithError(error);
  }
}

const cut = (text: string, max: number) => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);
const specOf = (d: StoredDeadLetter) =>
  d.specId === null ? '-' : `${d.specId}${d.specVersion === null ? '' : `@${d.specVersion}`}`;

function jsonOf(d: StoredDeadLetter) {
  const { payload: _, failedAt, replayedAt, ...rest } = d;
  return { ...rest, failedAt: failedAt.toISOString(), replayedAt: replayedAt?.toISOString() ?? null };
}

function printList(rows: readonly StoredDeadLetter[]): void {
  const table = [['id', 'failed_at', 'code', 'spec', 'stream/shard/sequence', 'reason']];
  for (const d of rows)
    table.push([
      d.id,
      d.failedAt.toISOString(),
      d.code ?? '-',
      specOf(d),
      `${d.stream}/${d.shardId}/${d.sequenceNumber}${d.subSequenceNumber ? `.${d.subSequenceNumber}` : ''}`,
      cut(d.reason, 60),
    ]);
  console.log(formatTable(table));
}

function printOne(d: StoredDeadLetter): void {
  const fields: Array<[string, string]> = [
    ['id', d.id],
    ['node', d.node],
    ['code', d.code ?? '-'],
    ['reason', d.reason],
    ['spec', specOf(d)],
    ['product', d.product ?? '-'],
    ['stream', d.stream],
    ['shard_id', d.shardId],
    ['sequence_number', d.sequenceNumber],
    ['sub_sequence_number', String(d.subSequenceNumber)],
    ['failed_at', d.failedAt.toISOString()],
    ['replayed_at', d.replayedAt?.toISOString() ?? '-'],
    ['payload_bytes', String(d.payload.length)],
  ];
  for (const [key, value] of fields) console.log(`${`${key}:`.padEnd(21)}${value}`);
  let text: string | undefined;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(d.payload);
  } catch {
    text = undefined;
  }
  console.log(
    text === undefined ? `payload (hex):\n${d.payload.toString('hex')}` : `payload (utf-8):\n${text}`,
  );
  const envelope = envelopeOf(d.payload);
  if (envelope !== undefined) console.log(`envelope:\n${JSON.stringify(envelope, null, 2)}`);
}

/** What the decode stage makes of a dead letter's bytes now: a partition key, or why it still fails. */
type Redecoded =
  | { readonly recovered: true; readonly partitionKey: string }
  | { readonly recovered: false; readonly code: string; readonly reason: string };

/** Decodes a dead letter's bytes as the decode operator would, with the specs in `registry`. */
function redecode(
  registry: SpecRegistry,
  d: StoredDeadLetter,
  now: number,
  devices?: DeviceRegistry,
): Redecoded {
  const record: RawRecord = {
    stream: d.stream,
    shardId: d.shardId,
    sequenceNumber: d.sequenceNumber,
    subSequenceNumber: d.subSequenceNumber,
    partitionKey: '',
    arrivedAt: d.failedAt.getTime(),
    data: d.payload,
  };
  try {
    const incoming = readIncoming(record);
    const spec = registry.find(incoming, devices);
    if (spec === undefined) throw new DecodeError('no-spec', 'no spec matches this record');
    const [first] = spec.decode(record, incoming, now);
    // the key the gateway used: the device (or hub) that sent the frame
    const partitionKey =
      first?.hub_id ??
      first?.device_id ??
      (incoming.envelope ? devicePartitionKey(incoming.envelope) : `dead-letter-${d.id}`);
    return { recovered: true, partitionKey };
  } catch (error) {
    if (!(error instanceof DecodeError)) throw error;
    return { recovered: false, code: error.code, reason: error.message };
  }
}

interface ReplayOptions extends FilterOptions {
  readonly dryRun?: boolean;
  readonly again?: boolean;
}

async function replay(warm: WarmStore, config: WorkerConfig, opts: ReplayOptions): Promise<void> {
  // the worker's modules load only for `dlq replay`, which decodes with the worker's specs
  const { loadSpecs } = await import('../worker.ts');
  const registry = loadSpecs(config, silentLogger);
  const selected = await listDeadLetters(warm.read, {
    ...filterOf(opts),
    node: DECODE_NODE,
    pending: !opts.again,
  });
  if (selected.length === 0) {
    console.log(
      `nothing to replay${opts.again ? '' : ' (rows already replayed are skipped; --again includes them)'}`,
    );
    return;
  }
  const now = Date.now();
  // the master data's device → product map, for specs recognised through the device registry
  const devices = pgDeviceProducts(warm.read, systemClock, silentLogger);
  await devices.refresh();
  const recovered: Array<{ row: StoredDeadLetter; partitionKey: string }> = [];
  for (const row of selected) {
    const outcome = redecode(registry, row, now, devices);
    if (outcome.recovered) recovered.push({ row, partitionKey: outcome.partitionKey });
    console.log(
      `${row.id}  ${outcome.recovered ? 'recovered' : `${outcome.code}  ${cut(outcome.reason, 80)}`}`,
    );
  }
  const failing = selected.length - recovered.length;
  console.log(`${recovered.length} of ${selected.length} recovered, ${failing} still failing`);
  if (opts.dryRun) console.log('dry run: nothing put on the stream, nothing marked');
  else if (recovered.length > 0) {
    await putOnStream(
      config,
      recovered.map(({ row, partitionKey }) => ({ partitionKey, data: row.payload })),
    );
    // put first, then mark: a crash in between replays those rows again rather than losing them
    await markReplayed(
      warm.write,
      recovered.map(({ row }) => row.id),
      new Date(),
    );
    console.log(`put ${recovered.length} records on ${config.source.kinesis.streamName}; marked replayed`);
  }
  if (failing > 0) process.exitCode = EXIT.failed;
}

/** Registers `dlq` and its subcommands on the program. */
export function registerDlqCommand(program: Command): void {
  const dlq = program.command('dlq').description('inspect dead letters and replay them after a spec fix');

  withFilters(dlq.command('list').description('list dead letters, newest first'))
    .option('--limit <n>', 'at most this many', limit, 50)
    .option('--json', 'one JSON array instead of a table')
    .action((opts: FilterOptions & { limit: number; json?: boolean }) =>
      withStore(opts.config, async (warm) => {
        const rows = await listDeadLetters(warm.read, { ...filterOf(opts), limit: opts.limit });
        if (opts.json) console.log(JSON.stringify(rows.map(jsonOf), null, 2));
        else printList(rows);
      }),
    );

  dlq
    .command('show')
    .description('one dead letter: every column, the payload, the envelope')
    .argument('<id>', 'the dead letter’s id (see dlq list)')
    .requiredOption('-c, --config <file>', 'worker configuration (YAML): warm')
    .action((id: string, opts: { config: string }) =>
      withStore(opts.config, async (warm) => {
        if (!/^[1-9]\d{0,17}$/.test(id))
          throw new UsageError(`"${id}" is not a dead-letter id (a positive integer, see dlq list)`);
        const row = await getDeadLetter(warm.read, id);
        if (row === undefined) throw new UsageError(`no dead letter with id ${id}`);
        printOne(row);
      }),
    );

  withFilters(
    dlq
      .command('replay')
      .description(
        'decode the decode stage’s dead letters again with the current specs; put those that decode back on the stream and mark them replayed',
      ),
  )
    .option('--dry-run', 'decode and report only; put nothing, mark nothing')
    .option('--again', 'include rows already replayed')
    .action((opts: ReplayOptions) => withStore(opts.config, (warm, config) => replay(warm, config, opts)));
}
