/**
 * The receivers of actions for the tests, all on loopback: the AWS stand-ins (`infra/standins/`: SNS,
 * the Device Shadow data plane, IoT Jobs, Step Functions, reached through the real AWS SDK clients),
 * a real SMTP server (`smtp-server`) and a real HTTP server for webhooks, each recording what it
 * received with the idempotency key it carried, and the worker's `actions:` section pointing at them.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { type IotJobsStandIn, startIotJobsStandIn } from '../../infra/standins/iotJobs.ts';
import { type ShadowStandIn, startShadowStandIn } from '../../infra/standins/shadow.ts';
import { type SnsStandIn, startSnsStandIn } from '../../infra/standins/sns.ts';
import { type StepFunctionsStandIn, startStepFunctionsStandIn } from '../../infra/standins/stepFunctions.ts';

/** One e-mail as the SMTP server received it. */
export interface ReceivedMail {
  readonly to: string[];
  readonly key: string | undefined;
  readonly messageId: string | undefined;
  readonly subject: string | undefined;
  readonly raw: string;
  readonly at: number;
}

/** One webhook call as the HTTP server received it. */
export interface ReceivedHook {
  readonly path: string;
  readonly key: string | undefined;
  readonly body: unknown;
  readonly at: number;
}

export interface ActionServices {
  readonly sns: SnsStandIn;
  readonly shadow: ShadowStandIn;
  readonly jobs: IotJobsStandIn;
  readonly workflow: StepFunctionsStandIn;
  readonly mails: ReceivedMail[];
  readonly hooks: ReceivedHook[];
  /** The SMTP server's port and the webhook server's base URL. */
  readonly smtpPort: number;
  readonly webhookUrl: string;
  /** When each SNS message arrived (by its `shardflow.key` attribute). */
  snsArrivals(): Map<string, number>;
  /** An `actions:` section delivering on all of them. */
  config(over?: Record<string, unknown>): Record<string, unknown>;
  stop(): Promise<void>;
}

const STATE_MACHINE = 'arn:aws:states:eu-west-1:123456789012:stateMachine:dispatch';

function header(raw: string, name: string): string | undefined {
  const match = new RegExp(`^${name}:\\s*(.*)$`, 'im').exec(raw.split(/\r?\n\r?\n/)[0] ?? '');
  return match?.[1]?.trim();
}

async function startSmtp(mails: ReceivedMail[]): Promise<{ server: SMTPServer; port: number }> {
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        mails.push({
          to: session.envelope.rcptTo.map((r) => r.address),
          key: header(raw, 'X-Shardflow-Key'),
          messageId: header(raw, 'Message-ID'),
          subject: header(raw, 'Subject'),
          raw,
          at: Date.now(),
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.server.address() as AddressInfo).port };
}

async function startHooks(hooks: ReceivedHook[]): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        body = undefined;
      }
      const key = req.headers['idempotency-key'];
      hooks.push({
        path: req.url ?? '',
        key: typeof key === 'string' ? key : undefined,
        body,
        at: Date.now(),
      });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** Starts every receiver. */
export async function startActionServices(): Promise<ActionServices> {
  const mails: ReceivedMail[] = [];
  const hooks: ReceivedHook[] = [];
  const [sns, shadow, jobs, workflow, smtp, web] = await Promise.all([
    startSnsStandIn(),
    startShadowStandIn(),
    startIotJobsStandIn({ region: 'eu-west-1', accountId: '123456789012' }),
    startStepFunctionsStandIn(),
    startSmtp(mails),
    startHooks(hooks),
  ]);
  return {
    sns,
    shadow,
    jobs,
    workflow,
    mails,
    hooks,
    smtpPort: smtp.port,
    webhookUrl: web.url,
    snsArrivals() {
      const at = new Map<string, number>();
      sns.messages.forEach((m, i) => {
        const key = m.attributes['shardflow.key']?.value;
        if (key !== undefined && !at.has(key)) at.set(key, i);
      });
      return at;
    },
    config(over = {}) {
      return {
        region: 'eu-west-1',
        pollMs: 100,
        sns: { endpoint: sns.endpoint },
        email: { host: '127.0.0.1', port: smtp.port, from: 'alarms@shardflow.test' },
        webhook: {},
        iot: { dataEndpoint: shadow.endpoint, endpoint: jobs.endpoint, accountId: '123456789012' },
        workflow: { stateMachineArn: STATE_MACHINE, endpoint: workflow.endpoint },
        ...over,
      };
    },
    async stop() {
      await Promise.all([sns.stop(), shadow.stop(), jobs.stop(), workflow.stop()]);
      await new Promise<void>((resolve) => smtp.server.close(() => resolve()));
      await new Promise<void>((resolve) => web.server.close(() => resolve()));
    },
  };
}
