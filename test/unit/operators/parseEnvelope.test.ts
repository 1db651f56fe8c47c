import { describe, expect, it } from 'vitest';
import { parseEnvelope } from '../../../operators/parseEnvelope.ts';
import {
  MemorySource,
  type RawRecord,
  TopologyBuilder,
  TopologyTestDriver,
} from '../../../topology/index.ts';

let sequence = 0;
function raw(body: unknown, extra: Partial<RawRecord> = {}): RawRecord {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return {
    stream: 'telemetry',
    shardId: 'shardId-000000000000',
    sequenceNumber: String(++sequence),
    partitionKey: 'pk',
    arrivedAt: 1_700_000_000_500,
    data: new TextEncoder().encode(text),
    ...extra,
  };
}

function envelope(payload: unknown, fields: Record<string, unknown> = {}) {
  return {
    v: 1,
    protocol: 'mqtt',
    topic: 'devices/dev-1/telemetry',
    receivedAt: 1_700_000_000_000,
    productId: 'thermo-t1',
    encoding: 'utf8',
    payload: JSON.stringify(payload),
    ...fields,
  };
}

function setup() {
  const b = new TopologyBuilder('parse');
  const input = b.source('input', new MemorySource<RawRecord>());
  const parsed = input.via('parse-envelope', parseEnvelope());
  const out = parsed.to('out', { type: 'none', write: async () => {} });
  const dlq = parsed.side('dlq').to('dlq', { type: 'none', write: async () => {} });
  return { driver: new TopologyTestDriver(b.build()), input, out, dlq };
}

async function parse(records: RawRecord[]) {
  const { driver, input, out, dlq } = setup();
  driver.send(input, 's', records);
  await driver.settle();
  const result = { telemetry: driver.output(out), deadLetters: driver.output(dlq) };
  await driver.close();
  return result;
}

describe('parse-envelope', () => {
  it('turns an envelope with a JSON payload into standard telemetry with its raw reference', async () => {
    const record = raw(envelope({ ts: 1_700_000_000, metrics: { temperature: 21.5, on: true } }));
    const { telemetry, deadLetters } = await parse([record]);
    expect(deadLetters).toEqual([]);
    expect(telemetry).toEqual([
      {
        device_id: 'dev-1',
        device_timestamp: 1_700_000_000_000,
        productId: 'thermo-t1',
        metrics: { temperature: 21.5, on: true },
        ingest_timestamp: 1_700_000_000_000,
        rawRef: {
          protocol: 'mqtt',
          topic: 'devices/dev-1/telemetry',
          format: 'json',
          stream: 'telemetry',
          shardId: 'shardId-000000000000',
          sequenceNumber: record.sequenceNumber,
          subSequenceNumber: undefined,
        },
      },
    ]);
  });

  it('reads hub and child ids from a child topic, and ISO, ms and base64/hex forms', async () => {
    const payload = JSON.stringify({ ts: '2023-11-14T22:13:20Z', metrics: { v: 1 } });
    const { telemetry } = await parse([
      raw(
        envelope(
          {},
          {
            topic: 'devices/hub-7/child/dev-9/telemetry',
            encoding: 'base64',
            payload: Buffer.from(payload).toString('base64'),
          },
        ),
      ),
      raw(
        envelope(
          {},
          {
            encoding: 'hex',
            payload: Buffer.from(
              JSON.stringify({ device_id: 'dev-2', ts: 1_700_000_000_123, metrics: {} }),
            ).toString('hex'),
          },
        ),
      ),
    ]);
    expect(telemetry[0]).toMatchObject({
      device_id: 'dev-9',
      hub_id: 'hub-7',
      childDeviceId: 'dev-9',
      device_timestamp: Date.parse('2023-11-14T22:13:20Z'),
    });
    expect(telemetry[1]).toMatchObject({ device_id: 'dev-2', device_timestamp: 1_700_000_000_123 });
  });

  it.each([
    ['not json at all', 'envelope is not JSON'],
    [JSON.stringify({ ...envelope({}), v: 2 }), 'unsupported envelope version 2'],
    [JSON.stringify(envelope({ metrics: {} })), 'timestamp "ts" is missing'],
    [JSON.stringify(envelope({ ts: 1 }, { topic: 'other/topic' })), 'no device_id in payload or topic'],
    [JSON.stringify(envelope({ ts: 1, metrics: {} }, { productId: undefined })), 'no productId'],
    [JSON.stringify(envelope({ ts: 1 })), 'payload has no "metrics" object'],
    [JSON.stringify({ ...envelope({}), payload: '{broken' }), 'payload is not JSON'],
  ])('sends %s to dead letters with the reason', async (body, reason) => {
    const record = raw(body);
    const { telemetry, deadLetters } = await parse([record]);
    expect(telemetry).toEqual([]);
    expect(deadLetters).toHaveLength(1);
    expect(deadLetters[0]!.reason).toContain(reason);
    expect(deadLetters[0]).toMatchObject({ node: 'parse-envelope', sequenceNumber: record.sequenceNumber });
    expect(Buffer.from(deadLetters[0]!.payloadBase64, 'base64').toString()).toBe(body);
  });

  it('keeps good records of a batch that also holds bad ones', async () => {
    const { telemetry, deadLetters } = await parse([
      raw(envelope({ ts: 1, metrics: {} })),
      raw('garbage'),
      raw(envelope({ ts: 2, metrics: {} })),
    ]);
    expect(telemetry.map((t) => t.device_timestamp)).toEqual([1000, 2000]);
    expect(deadLetters).toHaveLength(1);
  });
});
