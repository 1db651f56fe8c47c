/**
 * The window operator's public surface: the factory and its configuration, for the CLI that wires it,
 * and the parts the tests and benchmarks drive directly (assignment, a batch's rows).
 */
export { windowAssigner } from './assign.ts';
export { type WindowAggregateConfig, windowAggregateConfigSchema } from './config.ts';
export { ColumnLists, WindowRows } from './rows.ts';
export { type WindowAggregateOptions, windowAggregate } from './windowAggregate.ts';
