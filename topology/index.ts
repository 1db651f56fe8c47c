/**
 * The public surface of `topology/`: what sources, operators, sinks and the CLI may import.
 */
export * from './alarms.ts';
export * from './builder.ts';
export * from './clock.ts';
export * from './components.ts';
export * from './description.ts';
export * from './hashKey.ts';
export * from './keyedState.ts';
export * from './layout.ts';
export * from './logger.ts';
export * from './metricStats.ts';
export * from './records.ts';
export * from './rejection.ts';
export * from './render.ts';
export { type RuntimeConfig, runtimeConfigSchema } from './runtime/config.ts';
export { DrainTimeoutError, type UndrainedShard } from './runtime/drainTimeout.ts';
export { Lane } from './runtime/lane.ts';
export * from './runtime/metrics.ts';
export { isFatal, type RetryPolicy, SINK_RETRY, withRetry } from './runtime/retry.ts';
export { type RuntimeEvent, type RuntimeOptions, TopologyRuntime } from './runtime/runtime.ts';
export { AsyncQueue } from './testing/asyncQueue.ts';
export { type TestDriverOptions, TopologyTestDriver } from './testing/driver.ts';
export { MemorySource, type MemorySourceOptions } from './testing/memorySource.ts';
