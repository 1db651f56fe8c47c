/** What the CLI, the tests and the benchmarks import from the window operator. */
export { windowAssigner } from './assign.ts';
export { type WindowAggregateConfig, windowAggregateConfigSchema } from './config.ts';
export { windowAggregate } from './windowAggregate.ts';
