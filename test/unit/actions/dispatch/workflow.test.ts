/**
 * The dispatch workflow's Amazon States Language definition: valid for asl-validator once its
 * `${...}` substitutions are made (ARNs checked), every state reachable and able to reach an end, the
 * one loop bounded by its Choice, and every Task state retried and caught.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

type Validator = (
  definition: unknown,
  options?: { checkPaths: boolean; checkArn: boolean },
) => { isValid: boolean; errorsText: (separator?: string) => string };
const aslValidator = createRequire(import.meta.url)('asl-validator') as Validator;

const FILE = fileURLToPath(new URL('../../../../actions/dispatch/workflow.asl.json', import.meta.url));
const TEXT = readFileSync(FILE, 'utf8');

const SUBSTITUTIONS: Record<string, string> = {
  engineer_topic_arn: 'arn:aws:sns:eu-west-1:123456789012:shardflow-engineers',
  escalation_topic_arn: 'arn:aws:sns:eu-west-1:123456789012:shardflow-escalations',
  await_status_function_arn: 'arn:aws:lambda:eu-west-1:123456789012:function:shardflow-dispatch-await',
  reassign_function_arn: 'arn:aws:lambda:eu-west-1:123456789012:function:shardflow-dispatch-reassign',
};

/** As Terraform's templatefile would: every `${name}` replaced, an unknown name an error. */
function substitute(text: string): unknown {
  return JSON.parse(
    text.replace(/\$\{([a-z_]+)\}/g, (_, name: string) => {
      const value = SUBSTITUTIONS[name];
      if (value === undefined) throw new Error(`no substitution for \${${name}}`);
      return value;
    }),
  );
}

interface State {
  Type: string;
  Next?: string;
  End?: boolean;
  Default?: string;
  Choices?: { Next: string; Variable?: string }[];
  Catch?: { ErrorEquals: string[]; Next: string }[];
  Retry?: { ErrorEquals: string[] }[];
  Resource?: string;
  TimeoutSeconds?: number;
  HeartbeatSeconds?: number;
}
const definition = substitute(TEXT) as { StartAt: string; States: Record<string, State> };
const states = definition.States;

function successors(s: State): string[] {
  return [
    ...(s.Next === undefined ? [] : [s.Next]),
    ...(s.Default === undefined ? [] : [s.Default]),
    ...(s.Choices ?? []).map((c) => c.Next),
    ...(s.Catch ?? []).map((c) => c.Next),
  ];
}
const isTerminal = (s: State) => s.Type === 'Succeed' || s.Type === 'Fail' || s.End === true;

function reachable(from: string, edges: (name: string) => string[]): Set<string> {
  const seen = new Set([from]);
  const todo = [from];
  while (todo.length > 0)
    for (const next of edges(todo.pop()!))
      if (!seen.has(next)) {
        seen.add(next);
        todo.push(next);
      }
  return seen;
}

describe('dispatch workflow (ASL)', () => {
  it('uses only the known substitutions, and is valid with them made', () => {
    const names = [...TEXT.matchAll(/\$\{([a-z_]+)\}/g)].map((m) => m[1]);
    expect(new Set(names)).toEqual(new Set(Object.keys(SUBSTITUTIONS)));
    expect(JSON.stringify(definition)).not.toContain('${');
    const result = aslValidator(definition, { checkPaths: true, checkArn: true });
    expect(result.errorsText('\n')).toBe('');
    expect(result.isValid).toBe(true);
  });

  it('the validator refuses a broken definition (the check can fail)', () => {
    const broken = structuredClone(definition);
    broken.States.WaitForOnSite!.Next = 'NoSuchState';
    expect(aslValidator(broken, { checkPaths: true, checkArn: true }).isValid).toBe(false);
  });

  it('reaches every state from the start, and a terminal state from every state', () => {
    const edges = (name: string) => successors(states[name]!);
    expect([...reachable(definition.StartAt, edges)].sort()).toEqual(Object.keys(states).sort());
    for (const name of Object.keys(states)) {
      const ends = [...reachable(name, edges)].filter((n) => isTerminal(states[n]!));
      expect(ends, `from ${name}`).not.toEqual([]);
    }
    const terminals = Object.keys(states).filter((n) => isTerminal(states[n]!));
    expect(terminals.sort()).toEqual(['Cancelled', 'Overdue', 'Resolved', 'WorkflowFailed']);
  });

  it('has one loop (reassignment), bounded by the counter CanReassign checks', () => {
    expect(states.CanReassign!.Choices![0]).toMatchObject({ Variable: '$.attempts.n', Next: 'Reassign' });
    // without CanReassign's edge back into the loop the graph has no cycle
    const edges = (name: string) =>
      successors(states[name]!).filter((n) => !(name === 'CanReassign' && n === 'Reassign'));
    for (const name of Object.keys(states))
      for (const next of edges(name))
        expect(reachable(next, edges).has(name), `${name} → ${next} loops`).toBe(false);
  });

  it('retries and catches every task; the token waits have timeouts, acceptance a heartbeat', () => {
    const tasks = Object.entries(states).filter(([, s]) => s.Type === 'Task');
    expect(tasks.length).toBeGreaterThanOrEqual(6);
    for (const [name, s] of tasks) {
      expect(s.Retry?.length, name).toBeGreaterThan(0);
      expect(
        s.Catch?.some((c) => c.ErrorEquals.includes('States.ALL')),
        name,
      ).toBe(true);
      if (s.Resource!.endsWith('.waitForTaskToken')) expect(s.TimeoutSeconds, name).toBeGreaterThan(0);
    }
    expect(states.WaitForAcceptance!.HeartbeatSeconds).toBeLessThan(
      states.WaitForAcceptance!.TimeoutSeconds!,
    );
    expect(states.WaitForAcceptance!.Catch!.find((c) => c.ErrorEquals.includes('States.Timeout'))?.Next).toBe(
      'CountReassignment',
    );
  });
});
