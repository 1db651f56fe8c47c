/**
 * The `shardflow` command. Exit codes: 0 done, 1 the worker failed, 2 bad configuration or usage,
 * 3 a service could not be reached.
 */
import { Command } from 'commander';
import { errorMessage } from '../topology/index.ts';
import { registerAlarmsCommand } from './commands/alarms.ts';
import { registerBenchCommand } from './commands/bench.ts';
import { registerDemoCommand } from './commands/demo.ts';
import { registerDlqCommand } from './commands/dlq.ts';
import { registerFormulasCommand } from './commands/formulas.ts';
import { registerIcebergCommand } from './commands/iceberg.ts';
import { registerMasterdataCommand } from './commands/masterdata.ts';
import { registerQueryCommand } from './commands/query.ts';
import { registerReplayCommand } from './commands/replay.ts';
import { registerRulesCommand } from './commands/rules.ts';
import { registerRunCommand } from './commands/run.ts';
import { registerSavepointCommand } from './commands/savepoint.ts';
import { registerScaleAdviceCommand } from './commands/scaleAdvice.ts';
import { registerSpecsCommand } from './commands/specs.ts';
import { registerTopologyCommand } from './commands/topology.ts';
import { EXIT } from './exitCodes.ts';

const program = new Command('shardflow')
  .description('Stream processing for IoT telemetry on Kinesis: decode, aggregate, store.')
  .showHelpAfterError()
  .configureOutput({ outputError: (text, write) => write(`shardflow: ${text}`) })
  .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : EXIT.usage));

registerTopologyCommand(program);
registerRunCommand(program);
registerDemoCommand(program);
registerBenchCommand(program);
registerDlqCommand(program);
registerIcebergCommand(program);
registerQueryCommand(program);
registerMasterdataCommand(program);
registerReplayCommand(program);
registerSavepointCommand(program);
registerScaleAdviceCommand(program);
registerSpecsCommand(program);
registerRulesCommand(program);
registerFormulasCommand(program);
registerAlarmsCommand(program);

program.parseAsync(process.argv).catch((error: unknown) => {
  console.error(`shardflow: ${errorMessage(error)}`);
  process.exit(EXIT.failed);
});
