/**
 * Compile-time guarantees of the builder. `tsc --noEmit` (part of the test line) fails if any
 * `@ts-expect-error` below stops being an error, so these lines prove that wrong edges do not compile.
 */
import { describe, expectTypeOf, it } from 'vitest';
import { SpecRegistry } from '../../operators/decode/registry.ts';
import { decodeBySpec } from '../../operators/decodeBySpec.ts';
import { memoryDeviceDirectory } from '../../operators/enrich/directory.ts';
import { enrich, enrichConfigSchema } from '../../operators/enrich.ts';
import {
  type DeadLetter,
  MemorySource,
  type RawRecord,
  type Sink,
  type Stream,
  type Telemetry,
  TopologyBuilder,
  type WindowAggregate,
} from '../../topology/index.ts';

const aggregateSink: Sink<WindowAggregate> = { type: 'test', write: async () => {} };
const decode = () => decodeBySpec(new SpecRegistry('specs/examples'));

describe('typed edges', () => {
  it('infers each stream type from the operator that produces it', () => {
    const b = new TopologyBuilder('types');
    const raw = b.source('raw', new MemorySource<RawRecord>());
    const telemetry = raw.via('decode', decode());
    expectTypeOf(raw).toEqualTypeOf<Stream<RawRecord>>();
    expectTypeOf(telemetry).toMatchTypeOf<Stream<Telemetry>>();
    expectTypeOf(telemetry.side('dlq')).toEqualTypeOf<Stream<DeadLetter>>();
  });

  it('refuses an operator whose input type does not match the stream', () => {
    const b = new TopologyBuilder('types');
    const raw = b.source('raw', new MemorySource<RawRecord>());
    // enrich reads Telemetry, not RawRecord:
    // @ts-expect-error mismatched edge: Stream<RawRecord> into Operator<Telemetry, …>
    raw.via('enrich', enrich(enrichConfigSchema.parse({}), memoryDeviceDirectory(new Map())));
  });

  it('refuses a sink whose input type does not match the stream', () => {
    const b = new TopologyBuilder('types');
    const telemetry = b.source('raw', new MemorySource<RawRecord>()).via('decode', decode());
    // @ts-expect-error mismatched edge: Stream<Telemetry> into Sink<WindowAggregate>
    telemetry.to('aggregates', aggregateSink);
  });

  it('refuses a side output the operator does not declare', () => {
    const b = new TopologyBuilder('types');
    const telemetry = b.source('raw', new MemorySource<RawRecord>()).via('decode', decode());
    expectTypeOf(telemetry.side).parameter(0).toEqualTypeOf<'dlq'>();
    // @ts-expect-error decode has no "late" side output
    () => telemetry.side('late');
  });
});
