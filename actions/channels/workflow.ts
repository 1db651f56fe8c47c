/**
 * The dispatch workflow on AWS Step Functions: each delivery starts one execution (`StartExecution`)
 * named by the payload (the dispatch id), with the payload's input as JSON. Step Functions starts one
 * execution per name: the same name and input while it runs answers the running execution. Once it
 * has ended, or for another input, the service says `ExecutionAlreadyExists`; the channel then reads
 * the execution, and one with the same input is this delivery's own earlier start (done), while one
 * with another input is a different dispatch under the same name, which can never succeed.
 */
import { DescribeExecutionCommand, type SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { errorCodeOf, failedDelivery } from './aws.ts';
import type { Channel, DeliveryResult, WorkflowPayload } from './channel.ts';
import { mapBounded } from './mapBounded.ts';

/** Options of the workflow channel. */
export interface WorkflowChannelOptions {
  /** The dispatch workflow's state machine. */
  readonly stateMachineArn: string;
  /** StartExecution calls in flight at once (default 8). */
  readonly concurrency?: number;
  /** The wait asked for after a throttle or a server error (default 1000 ms). */
  readonly backoffMs?: number;
}

const MAX_INPUT_BYTES = 262_144;

/** A channel starting one Step Functions execution per dispatch. */
export function workflowChannel(client: SFNClient, options: WorkflowChannelOptions): Channel<'workflow'> {
  const concurrency = options.concurrency ?? 8;
  const backoffMs = options.backoffMs ?? 1000;
  const executionPrefix = `${options.stateMachineArn.replace(':stateMachine:', ':execution:')}:`;

  /** Whether the existing execution of this name is this delivery's own (the same input). */
  async function sameExecution(name: string, input: string): Promise<DeliveryResult> {
    const executionArn = `${executionPrefix}${name}`;
    const existing = await client.send(new DescribeExecutionCommand({ executionArn }));
    if (existing.input !== undefined && sameJson(existing.input, input))
      return { ok: true, ref: executionArn };
    return {
      ok: false,
      retry: false,
      error: `ExecutionAlreadyExists: execution '${name}' exists with a different input`,
    };
  }

  async function start(payload: WorkflowPayload): Promise<DeliveryResult> {
    if (!validExecutionName(payload.name))
      return { ok: false, retry: false, error: `'${payload.name}' is not a Step Functions execution name` };
    const input = JSON.stringify(payload.input);
    if (Buffer.byteLength(input) > MAX_INPUT_BYTES)
      return { ok: false, retry: false, error: `the input is over Step Functions' ${MAX_INPUT_BYTES} bytes` };
    try {
      const answer = await client.send(
        new StartExecutionCommand({ stateMachineArn: options.stateMachineArn, name: payload.name, input }),
      );
      return { ok: true, ...(answer.executionArn ? { ref: answer.executionArn } : {}) };
    } catch (error) {
      if (errorCodeOf(error) !== 'ExecutionAlreadyExists') return failedDelivery(error, backoffMs);
    }
    try {
      return await sameExecution(payload.name, input);
    } catch (error) {
      return failedDelivery(error, backoffMs);
    }
  }

  return {
    kind: 'workflow',
    send: (batch) => mapBounded(batch, concurrency, (d) => start(d.payload)),
  };
}

/**
 * Step Functions' name rules: 1–80 characters, none of whitespace, `< > { } [ ]`, `? *`,
 * `" # % \ ^ | ~ \` $ & , ; : /`, or control characters.
 */
export function validExecutionName(name: string): boolean {
  return name.length >= 1 && name.length <= 80 && !/[\s<>{}[\]?*"#%\\^|~`$&,;:/\p{Cc}]/u.test(name);
}

function sameJson(a: string, b: string): boolean {
  if (a === b) return true;
  try {
    return JSON.stringify(JSON.parse(a)) === JSON.stringify(JSON.parse(b));
  } catch {
    return false;
  }
}
