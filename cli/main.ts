/**
 * The `shardflow` command. Exit codes: 0 done, 1 the worker failed, 2 bad configuration or usage,
 * 3 a service could not be reached.
 */
import { Command } from 'commander';
import { errorMessage } from '../topology/logger.ts';
import { EXIT } from './exitCodes.ts';

const program = new Command('shardflow')
  .description('Stream processing for IoT telemetry on Kinesis: decode, aggregate, store.')
  .showHelpAfterError()
  .configureOutput({ outputError: (text, write) => write(`shardflow: ${text}`) })
  .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : EXIT.usage));

// Each command's module is loaded only when it runs: a command imports what it needs (the worker,
// the AWS SDK clients, mathjs…), which takes seconds to load, and a run of one command needs one
// module. Without a command, or with one not listed (help, a typo), every module is loaded, so the
// help lists them all and commander can suggest a name.
type Register = (program: Command) => void;
const COMMANDS: Readonly<Record<string, () => Promise<Register>>> = {
  topology: async () => (await import('./commands/topology.ts')).registerTopologyCommand,
  run: async () => (await import('./commands/run.ts')).registerRunCommand,
  demo: async () => (await import('./commands/demo.ts')).registerDemoCommand,
  bench: async () => (await import('./commands/bench.ts')).registerBenchCommand,
  dlq: async () => (await import('./commands/dlq.ts')).registerDlqCommand,
  iceberg: async () => (await import('./commands/iceberg.ts')).registerIcebergCommand,
  query: async () => (await import('./commands/query.ts')).registerQueryCommand,
  masterdata: async () => (await import('./commands/masterdata.ts')).registerMasterdataCommand,
  replay: async () => (await import('./commands/replay.ts')).registerReplayCommand,
  savepoint: async () => (await import('./commands/savepoint.ts')).registerSavepointCommand,
  'scale-advice': async () => (await import('./commands/scaleAdvice.ts')).registerScaleAdviceCommand,
  specs: async () => (await import('./commands/specs.ts')).registerSpecsCommand,
  rules: async () => (await import('./commands/rules.ts')).registerRulesCommand,
  formulas: async () => (await import('./commands/formulas.ts')).registerFormulasCommand,
  responses: async () => (await import('./commands/responses.ts')).registerResponsesCommand,
  alarms: async () => (await import('./commands/alarms.ts')).registerAlarmsCommand,
  outbox: async () => (await import('./commands/outbox.ts')).registerOutboxCommand,
  dispatch: async () => (await import('./commands/dispatch.ts')).registerDispatchCommand,
  gateway: async () => (await import('./commands/gateway.ts')).registerGatewayCommand,
};

const asked = process.argv[2];
const one = asked !== undefined && Object.hasOwn(COMMANDS, asked) ? COMMANDS[asked] : undefined;
for (const load of one ? [one] : Object.values(COMMANDS)) (await load())(program);

program.parseAsync(process.argv).catch((error: unknown) => {
  console.error(`shardflow: ${errorMessage(error)}`);
  process.exit(EXIT.failed);
});
