/**
 * The AWS channels (SNS, Device Shadow, IoT Jobs, Step Functions) through the real AWS SDK v3 clients
 * against the loopback stand-ins of `infra/standins/`, which speak each service's wire protocol and
 * keep its limits (none of these services has a local server here). The counts are taken at the
 * stand-ins: what arrived, in which requests, how often.
 *
 * Every client runs with `maxAttempts: 1`: a channel reports a throttle or a server error as
 * `retry: true` and the outbox's deliverer retries after `retryAfterMs`, so SDK retries would only
 * hide from these tests the faults the stand-ins inject (and wait out the SDK's backoff).
 */
import { createHash } from 'node:crypto';
import { IoTClient } from '@aws-sdk/client-iot';
import { IoTDataPlaneClient } from '@aws-sdk/client-iot-data-plane';
import { SFNClient } from '@aws-sdk/client-sfn';
import { PublishBatchCommand, SNSClient, TooManyEntriesInBatchRequestException } from '@aws-sdk/client-sns';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Delivery, DeliveryResult } from '../../actions/channels/channel.ts';
import { firmwareChannel } from '../../actions/channels/firmware.ts';
import { shadowChannel } from '../../actions/channels/shadow.ts';
import { SNS_MAX_PAYLOAD_BYTES, snsChannel } from '../../actions/channels/sns.ts';
import { workflowChannel } from '../../actions/channels/workflow.ts';
import { type IotJobsStandIn, startIotJobsStandIn } from '../../infra/standins/iotJobs.ts';
import { type ShadowStandIn, startShadowStandIn } from '../../infra/standins/shadow.ts';
import { type SnsStandIn, startSnsStandIn } from '../../infra/standins/sns.ts';
import { type StepFunctionsStandIn, startStepFunctionsStandIn } from '../../infra/standins/stepFunctions.ts';

function clientConfig(endpoint: string) {
  return {
    region: 'eu-west-1',
    endpoint,
    credentials: { accessKeyId: 'AKIDSTANDIN', secretAccessKey: 'standin-secret' },
    requestHandler: new NodeHttpHandler(),
    maxAttempts: 1,
  };
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:alarms';
const FIFO_TOPIC = 'arn:aws:sns:eu-west-1:123456789012:alarms.fifo';

function notification(key: string, body: string, to = TOPIC, subject = `Alarm ${key}`): Delivery<'sns'> {
  return { key, payload: { to, subject, body, facts: { severity: 'major', episodeId: `ep-${key}` } } };
}

describe('SNS channel', () => {
  let sns: SnsStandIn;
  let client: SNSClient;

  beforeAll(async () => {
    sns = await startSnsStandIn();
    client = new SNSClient(clientConfig(sns.endpoint));
  });
  afterAll(async () => {
    client.destroy();
    await sns.stop();
  });

  const keysAt = (topic: string) =>
    sns.messages.filter((m) => m.topicArn === topic).map((m) => m.attributes['shardflow.key']?.value);

  it('cuts large and small messages into requests of at most 10 entries and 256 KiB; each arrives once', async () => {
    const large = 'é'.repeat(35_000); // 70,000 UTF-8 bytes: three fit in one request, four do not
    const topicA = `${TOPIC}-large`;
    const topicB = `${TOPIC}-small`;
    const batch = [
      ...Array.from({ length: 25 }, (_, i) => notification(`large/${i}/sns`, `${i}:${large}`, topicA)),
      ...Array.from({ length: 25 }, (_, i) => notification(`small/${i}/sns`, `message ${i}`, topicB)),
    ];
    const before = sns.requests.length;
    const results = await snsChannel(client).send(batch);

    expect(results.every((r) => r.ok)).toBe(true);
    const requests = sns.requests.slice(before);
    expect(requests.every((r) => r.error === undefined)).toBe(true);
    expect(Math.max(...requests.map((r) => r.entries))).toBe(10);
    expect(Math.max(...requests.map((r) => r.bytes))).toBeLessThanOrEqual(SNS_MAX_PAYLOAD_BYTES);
    // Requests are in flight together, so they arrive in any order.
    const countsA = requests.filter((r) => r.topicArn === topicA).map((r) => r.entries);
    expect(countsA.sort()).toEqual([1, 3, 3, 3, 3, 3, 3, 3, 3]);
    expect(requests.filter((r) => r.topicArn === topicB).length).toBe(3);
    expect(keysAt(topicA).sort()).toEqual(
      batch
        .slice(0, 25)
        .map((d) => d.key)
        .sort(),
    );
    expect(keysAt(topicB).sort()).toEqual(
      batch
        .slice(25)
        .map((d) => d.key)
        .sort(),
    );
    const one = sns.messages.find((m) => m.attributes['shardflow.key']?.value === 'small/3/sns')!;
    expect(one.attributes.severity).toEqual({ dataType: 'String', value: 'major' });
    expect(one.attributes.episodeId?.value).toBe('ep-small/3/sns');
  });

  it('resends only the entries SNS failed, until each message is published exactly once', async () => {
    const topic = `${TOPIC}-flaky`;
    const all = Array.from({ length: 200 }, (_, i) => notification(`flaky/${i}/sns`, `message ${i}`, topic));
    const channel = snsChannel(client);
    sns.failEntries(0.3, 42);
    let pending = all;
    let rounds = 0;
    let failures = 0;
    try {
      while (pending.length > 0 && rounds < 30) {
        rounds++;
        const results = await channel.send(pending);
        const failed = results.flatMap((r, i) => (r.ok ? [] : [{ r, d: pending[i]! }]));
        for (const { r } of failed) expect(r).toMatchObject({ retry: true, retryAfterMs: 1000 });
        failures += failed.length;
        pending = failed.map((f) => f.d);
      }
    } finally {
      sns.failEntries(0);
    }
    expect(pending).toEqual([]);
    expect(rounds).toBeGreaterThan(2);
    expect(failures).toBeGreaterThan(30);
    const keys = keysAt(topic);
    expect(keys.length).toBe(200);
    expect(new Set(keys).size).toBe(200);
  });

  it('refuses a message over 256 KiB without sending it, and sends the rest', async () => {
    const before = sns.requests.length;
    const results = await snsChannel(client).send([
      notification('big/1/sns', 'x'.repeat(SNS_MAX_PAYLOAD_BYTES)),
      notification('fits/1/sns', 'fits'),
    ]);
    expect(results[0]).toMatchObject({ ok: false, retry: false, error: expect.stringContaining('262144') });
    expect(results[1]).toMatchObject({ ok: true });
    expect(sns.requests.slice(before).map((r) => r.entries)).toEqual([1]);
    expect(sns.messages.some((m) => m.attributes['shardflow.key']?.value === 'big/1/sns')).toBe(false);
  });

  it('on a FIFO topic sends the key hash as deduplication id and the episode as group; a replay is dropped', async () => {
    const batch = [0, 1, 2].map((i) =>
      notification(`fifo/${i}/sns`, `fifo ${i}`, FIFO_TOPIC, `Überhitzung\nPumpe ${i} ${'!'.repeat(150)}`),
    );
    const channel = snsChannel(client);
    const first = await channel.send(batch);
    const replay = await channel.send(batch);
    expect([...first, ...replay].every((r) => r.ok)).toBe(true);
    expect(replay.map((r) => (r.ok ? r.ref : ''))).toEqual(first.map((r) => (r.ok ? r.ref : '')));
    const stored = sns.messages.filter((m) => m.topicArn === FIFO_TOPIC);
    expect(stored.map((m) => m.deduplicationId)).toEqual(batch.map((d) => sha256(d.key)));
    expect(stored.map((m) => m.groupId)).toEqual(batch.map((d) => `ep-${d.key}`));
    for (const m of stored) {
      expect(m.subject!.length).toBeLessThanOrEqual(100);
      expect(m.subject).toMatch(/^Uberhitzung Pumpe \d !+$/);
    }
  });

  it('reports a throttled or failed request as retry with a backoff for every entry of it', async () => {
    const channel = snsChannel(client, { backoffMs: 250 });
    sns.throttleNext(1);
    const throttled = await channel.send([notification('t/1/sns', 'a'), notification('t/2/sns', 'b')]);
    expect(throttled).toEqual([
      expect.objectContaining({
        ok: false,
        retry: true,
        retryAfterMs: 250,
        error: expect.stringMatching(/^ThrottledException/),
      }),
      expect.objectContaining({ ok: false, retry: true, retryAfterMs: 250 }),
    ]);
    sns.throttleNext(1, 'Throttling');
    const generic = await channel.send([notification('t/3/sns', 'c')]);
    expect(generic[0]).toMatchObject({ ok: false, retry: true, retryAfterMs: 250, error: /^Throttling:/ });
    sns.failNext(1);
    const failed = await channel.send([notification('t/4/sns', 'd')]);
    expect(failed[0]).toMatchObject({
      ok: false,
      retry: true,
      retryAfterMs: 250,
      error: /^InternalErrorException/,
    });
    expect(sns.requests.slice(-3).map((r) => r.error)).toEqual(['Throttled', 'Throttling', 'InternalError']);
    expect(keysAt(TOPIC).filter((k) => k?.startsWith('t/'))).toEqual([]);
  });

  it('throws only when SNS cannot be reached at all', async () => {
    const gone = await startSnsStandIn();
    await gone.stop();
    const unreachable = new SNSClient(clientConfig(gone.endpoint));
    await expect(snsChannel(unreachable).send([notification('u/1/sns', 'a')])).rejects.toThrow();
    unreachable.destroy();
  });

  it('refuses an 11-entry PublishBatch from the real client with TooManyEntriesInBatchRequest', async () => {
    const entries = Array.from({ length: 11 }, (_, i) => ({ Id: `e${i}`, Message: `m${i}` }));
    const before = sns.messages.length;
    const call = client.send(
      new PublishBatchCommand({ TopicArn: TOPIC, PublishBatchRequestEntries: entries }),
    );
    await expect(call).rejects.toBeInstanceOf(TooManyEntriesInBatchRequestException);
    expect(sns.requests.at(-1)).toMatchObject({ entries: 11, error: 'TooManyEntriesInBatchRequest' });
    expect(sns.messages.length).toBe(before);
  });
});

describe('Device Shadow channel', () => {
  let shadows: ShadowStandIn;
  let client: IoTDataPlaneClient;

  beforeAll(async () => {
    shadows = await startShadowStandIn();
    client = new IoTDataPlaneClient(clientConfig(shadows.endpoint));
  });
  afterAll(async () => {
    client.destroy();
    await shadows.stop();
  });

  const command = (key: string, thingName: string, desired: Record<string, unknown>, shadowName?: string) =>
    ({ key, payload: { thingName, desired, ...(shadowName ? { shadowName } : {}) } }) as Delivery<'shadow'>;

  it('re-reads and retries when the version moved between its read and its update', async () => {
    shadows.report('pump-1', { valve: 'closed', firmware: '1.0' });
    shadows.conflictAfterNextRead('pump-1');
    const key = 'ep-1/2/shadow';
    const [result] = await shadowChannel(client).send([command(key, 'pump-1', { valve: 'open' })]);

    // version 1: the device's report; 2: the other writer; 3: this update.
    expect(result).toEqual({ ok: true, ref: '3' });
    const tries = shadows.updates.filter((u) => u.thingName === 'pump-1');
    expect(tries.map((u) => [u.version, u.status])).toEqual([
      [1, 409],
      [2, 200],
    ]);
    expect(tries.every((u) => u.clientToken === sha256(key))).toBe(true);
    const shadow = shadows.shadow('pump-1') as { state: Record<string, unknown>; version: number };
    expect(shadow.version).toBe(3);
    expect(shadow.state.desired).toEqual({ valve: 'open' });
    expect(shadow.state.delta).toEqual({ valve: 'open' });
  });

  it('gives the delivery back for later after repeated conflicts', async () => {
    shadows.report('pump-busy', { valve: 'closed' });
    for (let i = 0; i < 3; i++) shadows.conflictAfterNextRead('pump-busy');
    const [result] = await shadowChannel(client, { backoffMs: 300 }).send([
      command('ep-2/1/shadow', 'pump-busy', { valve: 'open' }),
    ]);
    expect(result).toMatchObject({ ok: false, retry: true, retryAfterMs: 300, error: /ConflictException/ });
    expect(shadows.updates.filter((u) => u.thingName === 'pump-busy').map((u) => u.status)).toEqual([
      409, 409, 409,
    ]);
  });

  it('creates a named shadow without a version guard', async () => {
    const [result] = await shadowChannel(client).send([
      command('ep-3/1/shadow', 'pump-2', { mode: 'eco' }, 'settings'),
    ]);
    expect(result).toEqual({ ok: true, ref: '1' });
    const update = shadows.updates.find((u) => u.thingName === 'pump-2')!;
    expect(update).toMatchObject({ shadowName: 'settings', status: 200 });
    expect(update.version).toBeUndefined();
    expect(shadows.shadow('pump-2')).toBeUndefined();
  });

  it('reports throttles as retry with a backoff and a forbidden thing as final', async () => {
    shadows.throttleNext(1);
    shadows.forbid('pump-forbidden');
    const results = await shadowChannel(client, { concurrency: 1 }).send([
      command('ep-4/1/shadow', 'pump-3', { fan: 'on' }),
      command('ep-4/2/shadow', 'pump-forbidden', { fan: 'on' }),
    ]);
    expect(results[0]).toMatchObject({
      ok: false,
      retry: true,
      retryAfterMs: 1000,
      error: /^ThrottlingException/,
    });
    expect(results[1]).toMatchObject({ ok: false, retry: false, error: /^ForbiddenException/ });
  });

  it('reads the reported state back once an obedient device has applied the change', async () => {
    const channel = shadowChannel(client);
    expect(await channel.reported('pump-4')).toBeUndefined();
    shadows.obey('pump-4', 50);
    const [result] = await channel.send([command('ep-5/1/shadow', 'pump-4', { setpoint: 42 })]);
    expect(result).toMatchObject({ ok: true });
    let reported: Readonly<Record<string, unknown>> | undefined;
    for (let i = 0; i < 50 && reported?.setpoint !== 42; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      reported = await channel.reported('pump-4');
    }
    expect(reported).toEqual({ setpoint: 42 });
  });
});

describe('Firmware channel', () => {
  let iot: IotJobsStandIn;
  let client: IoTClient;
  const thingArn = (thing: string) => `arn:aws:iot:eu-west-1:123456789012:thing/${thing}`;

  beforeAll(async () => {
    iot = await startIotJobsStandIn();
    client = new IoTClient(clientConfig(iot.endpoint));
  });
  afterAll(async () => {
    client.destroy();
    await iot.stop();
  });

  const update = (jobId: string): Delivery<'firmware'> => ({
    key: `ep-9/1/firmware`,
    payload: {
      jobId,
      thingName: 'pump-7',
      version: '2.4.1',
      document: { operation: 'install', url: 'https://firmware.example/2.4.1.bin' },
      maximumPerMinute: 20,
      abortFailurePercent: 25,
      abortMinExecutions: 1,
      timeoutMinutes: 60,
    },
  });

  it('creates the job once; the second send finds it there and is done too', async () => {
    const channel = firmwareChannel(client, { thingArn });
    const first = await channel.send([update('ep-9-fw-2_4_1')]);
    const second = await channel.send([update('ep-9-fw-2_4_1')]);
    expect([...first, ...second]).toEqual([
      { ok: true, ref: 'ep-9-fw-2_4_1' },
      { ok: true, ref: 'ep-9-fw-2_4_1' },
    ]);
    expect(iot.createRequestCount()).toBe(2);
    expect(iot.jobs).toHaveLength(1);
    const job = iot.jobs[0]!;
    expect(job).toMatchObject({
      jobId: 'ep-9-fw-2_4_1',
      targets: [thingArn('pump-7')],
      targetSelection: 'SNAPSHOT',
      jobExecutionsRolloutConfig: { maximumPerMinute: 20 },
      abortConfig: {
        criteriaList: [
          { failureType: 'FAILED', action: 'CANCEL', thresholdPercentage: 25, minNumberOfExecutedThings: 1 },
        ],
      },
      timeoutConfig: { inProgressTimeoutInMinutes: 60 },
    });
    expect(job.description).toContain('2.4.1');
    expect(JSON.parse(job.document)).toEqual(update('x').payload.document);
  });

  it('refuses a bad job id without a request, and retries a throttle', async () => {
    const before = iot.createRequestCount();
    const [bad] = await firmwareChannel(client, { thingArn }).send([update('fw/2.4.1')]);
    expect(bad).toMatchObject({ ok: false, retry: false });
    expect(iot.createRequestCount()).toBe(before);
    iot.throttleNext(1);
    const [throttled] = await firmwareChannel(client, { thingArn }).send([update('ep-10-fw')]);
    expect(throttled).toMatchObject({
      ok: false,
      retry: true,
      retryAfterMs: 2000,
      error: /^ThrottlingException/,
    });
  });
});

describe('Workflow channel', () => {
  let sfn: StepFunctionsStandIn;
  let client: SFNClient;
  const stateMachineArn = 'arn:aws:states:eu-west-1:123456789012:stateMachine:dispatch';

  beforeAll(async () => {
    sfn = await startStepFunctionsStandIn();
    client = new SFNClient(clientConfig(sfn.endpoint));
  });
  afterAll(async () => {
    client.destroy();
    await sfn.stop();
  });

  const dispatch = (name: string, input: Record<string, unknown>): Delivery<'workflow'> => ({
    key: `${name}/1/workflow`,
    payload: { name, input },
  });

  it('starts one execution per name, while it runs and after it ended', async () => {
    const channel = workflowChannel(client, { stateMachineArn });
    const arn = `arn:aws:states:eu-west-1:123456789012:execution:dispatch:dispatch-1`;
    const results: DeliveryResult[] = [];
    results.push(...(await channel.send([dispatch('dispatch-1', { site: 'S1', engineer: 'e-7' })])));
    results.push(...(await channel.send([dispatch('dispatch-1', { site: 'S1', engineer: 'e-7' })])));
    sfn.finish(arn);
    results.push(...(await channel.send([dispatch('dispatch-1', { site: 'S1', engineer: 'e-7' })])));
    expect(results).toEqual([
      { ok: true, ref: arn },
      { ok: true, ref: arn },
      { ok: true, ref: arn },
    ]);
    expect(sfn.executions).toHaveLength(1);
    expect(sfn.startRequestCount()).toBe(3);
    expect(JSON.parse(sfn.executions[0]!.input)).toEqual({ site: 'S1', engineer: 'e-7' });
  });

  it('refuses the same name with another input, a bad name, and retries a throttle', async () => {
    const channel = workflowChannel(client, { stateMachineArn });
    await channel.send([dispatch('dispatch-2', { site: 'S2' })]);
    const [other] = await channel.send([dispatch('dispatch-2', { site: 'S3' })]);
    expect(other).toMatchObject({ ok: false, retry: false, error: /different input/ });
    const before = sfn.startRequestCount();
    const [badName] = await channel.send([dispatch('dispatch 3', {})]);
    expect(badName).toMatchObject({ ok: false, retry: false });
    expect(sfn.startRequestCount()).toBe(before);
    sfn.throttleNext(1);
    const [throttled] = await channel.send([dispatch('dispatch-4', {})]);
    expect(throttled).toMatchObject({
      ok: false,
      retry: true,
      retryAfterMs: 1000,
      error: /^ThrottlingException/,
    });
    expect(sfn.executions.map((e) => e.name)).toEqual(['dispatch-1', 'dispatch-2']);
  });
});
