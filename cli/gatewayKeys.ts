/**
 * The partition key of a payload a gateway cannot read itself (a TCP frame, a file's record): the
 * product specs' own decoder reads it, as the decode stage will, and the key is the hub for a hub's or
 * a child's record, else the device — the key the MQTT bridge and REST take from the topic, so a
 * device's records land in one shard whichever way they came. A payload no spec decodes has no key
 * here (the gateway falls back to its connection's or file's); the decode stage dead-letters it.
 */
import { MAX_PARTITION_KEY_BYTES } from '../gateways/ingest/durableIngest.ts';
import type { PayloadKeyFinder } from '../gateways/ingest/envelope.ts';
import { SpecRegistry } from '../operators/decode/registry.ts';
import type { IngestEnvelope, Logger, RawRecord } from '../topology/index.ts';
import { ConfigError } from './config.ts';

/** Loads the specs of `dir` (refusing a directory with problems) and reads keys with them. */
export function specKeyFinder(dir: string, log: Logger, now: () => number = Date.now): PayloadKeyFinder {
  const registry = new SpecRegistry(dir, log);
  const problems = registry.load();
  if (problems.length > 0)
    throw new ConfigError(
      problems.map((p) => `${p.file}:${p.line}: ${p.message}`),
      `specs.dir ${dir}`,
    );
  if (registry.specs.length === 0) throw new ConfigError([`no product spec in ${dir}`], 'specs.dir');
  return (payload, productId) => {
    const envelope: IngestEnvelope = {
      v: 1,
      protocol: 'tcp',
      receivedAt: now(),
      ...(productId !== undefined ? { productId } : {}),
      encoding: 'base64',
      payload: '',
    };
    const incoming = { envelope, payload };
    const spec = registry.find(incoming);
    if (spec === undefined) return undefined;
    const record: RawRecord = {
      stream: '',
      shardId: '',
      sequenceNumber: '0',
      partitionKey: '',
      arrivedAt: envelope.receivedAt,
      data: payload,
    };
    try {
      const first = spec.decode(record, incoming, envelope.receivedAt)[0];
      const key = first === undefined ? undefined : (first.hub_id ?? first.device_id);
      // an id Kinesis cannot take as a key: the gateway's fallback key (decode dead-letters it)
      return key !== undefined && key.length > 0 && Buffer.byteLength(key, 'utf8') <= MAX_PARTITION_KEY_BYTES
        ? key
        : undefined;
    } catch {
      // a DecodeError (the decode stage will dead-letter the record), or a decoder's bug, which
      // must not take a gateway's connections down with it: the caller's fallback key then
      return undefined;
    }
  };
}
