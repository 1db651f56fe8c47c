/**
 * One frame through the decode stage, as a worker would decode it: the same operator
 * (`decodeBySpec`, with its admission checks at their defaults) on a clock set to `now`, so that
 * `specs test` and the case files say what production would make of the frame.
 */

import type { SpecRegistry } from '../../operators/decode/registry.ts';
import { decodeBySpec } from '../../operators/decodeBySpec.ts';
import { ManualClock } from '../../topology/clock.ts';
import type { DeadLetter, IngestEnvelope, RawRecord, Telemetry } from '../../topology/index.ts';

/** A frame and what came with it: the envelope's fields (none: a bare payload) and the partition key. */
export interface TestFrame {
  readonly payload: Uint8Array;
  readonly product?: string;
  readonly topic?: string;
  readonly protocol?: IngestEnvelope['protocol'];
  readonly source?: string;
  /** The envelope's receive time; `now` when absent. */
  readonly receivedAt?: number;
  readonly partitionKey?: string;
}

/** What the decode stage made of a frame: telemetry, or a dead letter with its reason code. */
export type FrameOutcome =
  | { readonly telemetry: readonly Telemetry[]; readonly deadLetter?: undefined }
  | {
      readonly telemetry?: undefined;
      readonly deadLetter: { readonly code: string; readonly reason: string };
    };

/** The stream record of a frame: an envelope when any envelope field is given, else the bare payload. */
export function testRecord(frame: TestFrame, now: number): RawRecord {
  const { payload, product, topic, protocol, source, receivedAt } = frame;
  const enveloped = [product, topic, protocol, source, receivedAt].some((v) => v !== undefined);
  const envelope: IngestEnvelope | undefined = enveloped
    ? {
        v: 1,
        protocol: protocol ?? 'mqtt',
        topic,
        source,
        productId: product,
        receivedAt: receivedAt ?? now,
        encoding: 'base64',
        payload: Buffer.from(payload).toString('base64'),
      }
    : undefined;
  return {
    stream: 'specs-test',
    shardId: 'shardId-000000000000',
    sequenceNumber: '1',
    partitionKey: frame.partitionKey ?? 'specs-test',
    arrivedAt: now,
    data: envelope ? Buffer.from(JSON.stringify(envelope)) : Buffer.from(payload),
  };
}

/** Decodes one frame with the specs in force of `registry`, the clock at `now`. */
export function decodeTestFrame(registry: SpecRegistry, frame: TestFrame, now: number): FrameOutcome {
  const operator = decodeBySpec(registry);
  const dead: DeadLetter[] = [];
  const telemetry = operator.process([testRecord(frame, now)], {
    node: 'decode',
    shardId: 'shardId-000000000000',
    position: { sequenceNumber: '1', subSequenceNumber: 0 },
    clock: new ManualClock(now),
    side: (_port, letter) => void dead.push(letter),
  }) as Telemetry[];
  const letter = dead[0];
  if (letter === undefined) return { telemetry };
  return { deadLetter: { code: letter.code ?? 'unknown', reason: letter.reason } };
}
