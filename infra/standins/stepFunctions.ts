/**
 * A stand-in for AWS Step Functions `StartExecution` and `DescribeExecution` (standard workflows) on
 * loopback, speaking its wire protocol (awsJson1_0: a POST with `X-Amz-Target`, errors by `__type`)
 * so the real `SFNClient` talks to it. Start is idempotent as AWS documents it: the same name and
 * input as a running execution answers that execution; a closed one, or another input, fails with
 * `ExecutionAlreadyExists`. Names are checked by Step Functions' rules (`InvalidName`). It records
 * every execution; the fault it injects is throttling.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { awsJsonError, type Listening, NextRequests, readBody, sendJson, serve } from './http.ts';

/** An execution as the stand-in keeps it. */
export interface SfnExecution {
  readonly executionArn: string;
  readonly stateMachineArn: string;
  readonly name: string;
  readonly input: string;
  status: 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'ABORTED';
  /** Epoch seconds. */
  readonly startDate: number;
  stopDate?: number;
}

/** The running Step Functions stand-in: its records, its control over executions, its fault. */
export interface StepFunctionsStandIn extends Listening {
  /** Every execution started, in order. */
  readonly executions: readonly SfnExecution[];
  /** How many StartExecution requests arrived (refused ones too). */
  startRequestCount(): number;
  /** Ends an execution (default `SUCCEEDED`), as the workflow finishing would. */
  finish(executionArn: string, status?: 'SUCCEEDED' | 'FAILED' | 'ABORTED'): void;
  /** Refuses the next `n` requests with `ThrottlingException` (HTTP 400). */
  throttleNext(n: number): void;
}

class SfnError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

const MAX_INPUT_BYTES = 262_144;
const TARGET = 'AWSStepFunctions.';
const STATE_MACHINE_ARN = /^arn:aws:states:[a-z0-9-]+:\d{12}:stateMachine:([A-Za-z0-9_-]{1,80})$/;

/** Starts the Step Functions stand-in on 127.0.0.1 and a free port. */
export async function startStepFunctionsStandIn(): Promise<StepFunctionsStandIn> {
  const executions: SfnExecution[] = [];
  const byArn = new Map<string, SfnExecution>();
  const throttles = new NextRequests();
  let startRequests = 0;

  function startExecution(request: Record<string, unknown>): unknown {
    const { stateMachineArn, name = randomUUID(), input = '{}' } = request;
    const machine = typeof stateMachineArn === 'string' ? STATE_MACHINE_ARN.exec(stateMachineArn) : null;
    if (!machine) throw new SfnError('InvalidArn', `Invalid Arn: '${String(stateMachineArn)}'`);
    if (typeof name !== 'string' || !validName(name))
      throw new SfnError('InvalidName', `Invalid Name: '${name}'`);
    if (typeof input !== 'string' || !validJson(input))
      throw new SfnError('InvalidExecutionInput', 'Invalid State Machine Execution Input');
    const executionArn = `${(stateMachineArn as string).replace(':stateMachine:', ':execution:')}:${name}`;
    const existing = byArn.get(executionArn);
    if (existing) {
      if (existing.status === 'RUNNING' && existing.input === input)
        return { executionArn, startDate: existing.startDate };
      throw new SfnError('ExecutionAlreadyExists', `Execution Already Exists: '${executionArn}'`);
    }
    const execution: SfnExecution = {
      executionArn,
      stateMachineArn: stateMachineArn as string,
      name,
      input,
      status: 'RUNNING',
      startDate: Date.now() / 1000,
    };
    executions.push(execution);
    byArn.set(executionArn, execution);
    return { executionArn, startDate: execution.startDate };
  }

  function describeExecution(request: Record<string, unknown>): unknown {
    const execution = byArn.get(String(request.executionArn));
    if (!execution)
      throw new SfnError(
        'ExecutionDoesNotExist',
        `Execution Does Not Exist: '${String(request.executionArn)}'`,
      );
    return { ...execution };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const body = await readBody(req, 2 * MAX_INPUT_BYTES);
      if (body === undefined) throw new SfnError('ValidationException', 'The request is too large');
      const operation = String(req.headers['x-amz-target'] ?? '');
      if (operation === `${TARGET}StartExecution`) startRequests++;
      if (throttles.take()) throw new SfnError('ThrottlingException', 'Rate exceeded');
      const request = parseJson(body);
      if (operation === `${TARGET}StartExecution`) return answer(res, startExecution(request));
      if (operation === `${TARGET}DescribeExecution`) return answer(res, describeExecution(request));
      throw new SfnError('UnknownOperationException', `Unknown operation ${operation}`);
    } catch (error) {
      if (!(error instanceof SfnError)) throw error;
      awsJsonError(res, error.status, error.type, error.message);
    }
  }

  const listening = await serve(handle);
  return {
    ...listening,
    executions,
    startRequestCount: () => startRequests,
    finish(executionArn, status = 'SUCCEEDED') {
      const execution = byArn.get(executionArn);
      if (!execution) throw new Error(`no execution ${executionArn}`);
      execution.status = status;
      execution.stopDate = Date.now() / 1000;
    },
    throttleNext: (n) => throttles.fail(n),
  };
}

/**
 * Step Functions' name rules: 1–80 characters, none of whitespace, `< > { } [ ]`, `? *`,
 * `" # % \ ^ | ~ \` $ & , ; : /`, or control characters.
 */
function validName(name: string): boolean {
  return name.length >= 1 && name.length <= 80 && !/[\s<>{}[\]?*"#%\\^|~`$&,;:/\p{Cc}]/u.test(name);
}

function validJson(text: string): boolean {
  if (Buffer.byteLength(text) > MAX_INPUT_BYTES) return false;
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

function parseJson(body: Buffer): Record<string, unknown> {
  try {
    const parsed = JSON.parse(body.toString('utf8') || '{}') as unknown;
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed))
      return parsed as Record<string, unknown>;
  } catch {
    // answered below, as Step Functions answers a body it cannot read
  }
  throw new SfnError('SerializationException', 'The request body is not a JSON object');
}

function answer(res: ServerResponse, body: unknown): void {
  sendJson(res, 200, body, 'application/x-amz-json-1.0');
}
