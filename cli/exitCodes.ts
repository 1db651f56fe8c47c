/**
 * The exit codes of every `shardflow` command, in a module of their own so that a command that must
 * start fast (`specs`) can use them without loading the worker.
 */
export const EXIT = { done: 0, failed: 1, usage: 2, service: 3 } as const;
