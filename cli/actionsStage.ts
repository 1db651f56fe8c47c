/**
 * The worker's actions from its `actions:` section: the response policies in force (read from the
 * Warm store, reloaded on their NOTIFY), the outbox writer the alarm sink runs in its transaction,
 * and the deliverer with the channels this worker delivers on (SNS, e-mail, webhooks, Device Shadow,
 * IoT Jobs, Step Functions), woken by the outbox's NOTIFY.
 */
import { IoTClient } from '@aws-sdk/client-iot';
import { IoTDataPlaneClient } from '@aws-sdk/client-iot-data-plane';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SNSClient } from '@aws-sdk/client-sns';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { emailChannel } from '../actions/channels/email.ts';
import { firmwareChannel } from '../actions/channels/firmware.ts';
import { shadowChannel } from '../actions/channels/shadow.ts';
import { snsChannel } from '../actions/channels/sns.ts';
import { webhookChannel } from '../actions/channels/webhook.ts';
import { workflowChannel } from '../actions/channels/workflow.ts';
import type { ActionsConfig } from '../actions/config.ts';
import { type Channels, OutboxDeliverer } from '../actions/outbox/deliverer.ts';
import { type OutboxWriter, outboxFeed, outboxWriter } from '../actions/outbox/outboxWriter.ts';
import { PolicyCatalog, type PolicyLookup, policiesOfSets, policyFeed } from '../actions/policies/catalog.ts';
import type { PgChannelFeed } from '../sinks/postgres/channelFeed.ts';
import type { SqlClient } from '../sinks/postgres/sql.ts';
import type { PgEndpoint } from '../sinks/postgres/store.ts';
import { loadPolicySets } from '../specs/responses/loader.ts';
import { type Clock, errorMessage, type Logger } from '../topology/index.ts';
import { ConfigError } from './config.ts';

/** What a worker runs for its `actions:` section. */
export interface ActionsStage {
  /** For the alarm event sink: the outbox rows of each batch, in its transaction. */
  readonly writer: OutboxWriter;
  /** Absent when `deliver: false`. */
  readonly deliverer?: OutboxDeliverer;
  close(): Promise<void>;
}

/** The environment variable `name` names, or a configuration error naming `key`. */
function fromEnv(key: string, name: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  if (name === undefined) return undefined;
  const value = env[name];
  if (value === undefined || value === '')
    throw new ConfigError([`${key}: the environment variable ${name} is not set`], 'configuration');
  return value;
}

/** Credentials a loopback stand-in accepts, used only when the environment has none. */
const LOOPBACK_CREDENTIALS = { accessKeyId: 'shardflow-local', secretAccessKey: 'shardflow-local' };

function isLoopback(url: string): boolean {
  const host = new URL(url).hostname;
  return host === '127.0.0.1' || host === 'localhost' || host === '[::1]';
}

/** The AWS client options of a service: region, endpoint when given, HTTP/1.1 (loopback stand-ins). */
function awsOptions(region: string, endpoint: string | undefined, env: NodeJS.ProcessEnv) {
  const local =
    endpoint !== undefined &&
    isLoopback(endpoint) &&
    !(env.AWS_ACCESS_KEY_ID || env.AWS_PROFILE || env.AWS_WEB_IDENTITY_TOKEN_FILE);
  return {
    region,
    ...(endpoint === undefined ? {} : { endpoint }),
    ...(local ? { credentials: LOOPBACK_CREDENTIALS } : {}),
    requestHandler: new NodeHttpHandler({ connectionTimeout: 5_000, requestTimeout: 15_000 }),
    maxAttempts: 1,
  };
}

/** The channels of `config`, and the reader of devices' reported state when IoT is configured. */
export function openChannels(config: ActionsConfig, env: NodeJS.ProcessEnv = process.env) {
  const channels: { -readonly [K in keyof Channels]: Channels[K] } = {};
  let shadows: ReturnType<typeof shadowChannel> | undefined;
  if (config.sns)
    channels.sns = snsChannel(new SNSClient(awsOptions(config.region, config.sns.endpoint, env)));
  if (config.email) {
    const { host, port, secure, from } = config.email;
    const user = fromEnv('actions.email.usernameEnv', config.email.usernameEnv, env);
    const password = fromEnv('actions.email.passwordEnv', config.email.passwordEnv, env);
    channels.email = emailChannel({ host, port, secure, from, user, password });
  }
  if (config.webhook)
    channels.webhook = webhookChannel({
      secret: fromEnv('actions.webhook.secretEnv', config.webhook.secretEnv, env),
      timeoutMs: config.webhook.timeoutMs,
    });
  if (config.iot) {
    const { region } = config;
    const { accountId } = config.iot;
    shadows = shadowChannel(new IoTDataPlaneClient(awsOptions(region, config.iot.dataEndpoint, env)));
    channels.shadow = shadows;
    channels.firmware = firmwareChannel(new IoTClient(awsOptions(region, config.iot.endpoint, env)), {
      thingArn: (thing) => `arn:aws:iot:${region}:${accountId}:thing/${thing}`,
    });
  }
  if (config.workflow)
    channels.workflow = workflowChannel(
      new SFNClient(awsOptions(config.region, config.workflow.endpoint, env)),
      {
        stateMachineArn: config.workflow.stateMachineArn,
      },
    );
  return { channels: channels as Channels, shadows };
}

/** The policies of the files in `dir`, checked against the rulesets in `rulesDir` when given. */
function policiesInFiles(dir: string, rulesDir: string | undefined): PolicyLookup {
  let loaded: ReturnType<typeof loadPolicySets>;
  try {
    loaded = loadPolicySets([dir], rulesDir);
  } catch (error) {
    throw new ConfigError(
      [`actions.policiesDir: cannot read ${dir}: ${errorMessage(error)}`],
      'configuration',
    );
  }
  if (loaded.problems.length > 0)
    throw new ConfigError(
      loaded.problems.map((p) => `actions.policiesDir: ${p.file}:${p.line} ${p.message}`),
      'configuration',
    );
  return policiesOfSets(loaded.sets.map((s) => s.set));
}

/** Opens the actions of a worker: loads the policies in force and starts delivering. */
export async function openActionsStage(
  config: ActionsConfig,
  deps: {
    readonly warm: SqlClient;
    readonly writeEndpoint?: PgEndpoint;
    /** The worker's ruleset files (`rules.dir`), which policy files are checked against. */
    readonly rulesDir?: string;
    readonly clock: Clock;
    readonly log: Logger;
  },
): Promise<ActionsStage> {
  const { warm, writeEndpoint, rulesDir, clock, log } = deps;
  const { channels, shadows } = openChannels(config);
  const feeds: PgChannelFeed[] = [];
  let policyFor: PolicyLookup;
  if (config.policiesDir !== undefined) {
    policyFor = policiesInFiles(config.policiesDir, rulesDir);
  } else {
    const catalog = new PolicyCatalog(warm, log);
    // listening before the first read, as for rulesets
    if (writeEndpoint) {
      const changes = policyFeed(writeEndpoint, { clock, log });
      feeds.push(changes);
      catalog.follow(changes);
      await Promise.race([changes.ready(), clock.sleep(5_000)]);
    }
    await catalog.loadAll();
    policyFor = (product, rule, severity) => catalog.policyFor(product, rule, severity);
  }
  const writer = outboxWriter({
    policyFor,
    clock,
    maxEventAgeMs: config.maxEventAgeMs,
  });
  let deliverer: OutboxDeliverer | undefined;
  if (config.deliver) {
    deliverer = new OutboxDeliverer({
      warm,
      channels,
      ...(shadows === undefined ? {} : { shadows }),
      clock,
      batchSize: config.batchSize,
      pollMs: config.pollMs,
      maxAttempts: config.maxAttempts,
      flood: config.flood,
      log,
    });
    if (writeEndpoint) {
      const wake = outboxFeed(writeEndpoint, { clock, log });
      feeds.push(wake);
      const d = deliverer;
      wake.subscribe(() => d.poke());
    }
    deliverer.start();
  }
  return {
    writer,
    ...(deliverer === undefined ? {} : { deliverer }),
    async close() {
      await deliverer?.stop();
      for (const feed of feeds) await feed.close();
      await Promise.all(Object.values(channels).map((c) => c?.close?.()));
    },
  };
}
