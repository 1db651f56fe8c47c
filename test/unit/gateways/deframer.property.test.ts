/**
 * Fuzzing the deframer (fast-check): random framings, random byte streams (random bytes and streams
 * built from valid frames with noise), random chunk splits. Whatever comes in, the frames, the
 * bytes between them (delimiters), the broken bytes and the leftover reassemble to exactly what was
 * read; the chunking changes nothing up to where the framing broke; nothing but a FramingError is
 * ever reported and nothing is thrown.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  Deframer,
  FramingError,
  type FramingInput,
  framingSchema,
} from '../../../gateways/framing/deframer.ts';

const framings: fc.Arbitrary<FramingInput> = fc.oneof(
  fc.record({
    kind: fc.constant('length-prefix' as const),
    lengthBytes: fc.constantFrom(1 as const, 2 as const, 4 as const),
    endian: fc.constantFrom('big' as const, 'little' as const),
    lengthOffset: fc.integer({ min: 0, max: 3 }),
    lengthCounts: fc.constantFrom('rest' as const, 'frame' as const),
    lengthAdjust: fc.integer({ min: -3, max: 3 }),
    maxFrameBytes: fc.integer({ min: 1, max: 64 }),
  }),
  fc.record({
    kind: fc.constant('delimiter' as const),
    delimiter: fc
      .uint8Array({ minLength: 1, maxLength: 3 })
      .map((d) => ({ hex: Buffer.from(d).toString('hex') })),
    maxFrameBytes: fc.integer({ min: 1, max: 64 }),
  }),
  fc.record({ kind: fc.constant('lines' as const), maxFrameBytes: fc.integer({ min: 1, max: 64 }) }),
  fc.record({ kind: fc.constant('fixed' as const), frameBytes: fc.integer({ min: 1, max: 16 }) }),
);

/** Bytes biased towards what the framings look for: small lengths, \r, \n, delimiters. */
const streams = fc
  .array(
    fc.oneof(
      fc.uint8Array({ maxLength: 12 }),
      fc.constantFrom(Uint8Array.of(0x0a), Uint8Array.of(0x0d, 0x0a), Uint8Array.of(0, 2), Uint8Array.of(3)),
    ),
    { maxLength: 30 },
  )
  .map((parts) => Uint8Array.from(Buffer.concat(parts)));

/** Chunk boundaries: sorted cut points inside the stream. */
const splitsOf = (length: number) =>
  fc
    .uniqueArray(fc.integer({ min: 0, max: length }), { maxLength: 12 })
    .map((cuts) => cuts.sort((a, b) => a - b));

interface Outcome {
  readonly frames: { bytes: Uint8Array; offset: number }[];
  /** Bytes pushed (up to and including the chunk that broke the framing). */
  readonly read: number;
  readonly broken?: FramingError;
  readonly end?: ReturnType<Deframer['end']>;
}

function run(framing: FramingInput, stream: Uint8Array, cuts: readonly number[]): Outcome {
  const d = new Deframer(framingSchema.parse(framing));
  const frames: { bytes: Uint8Array; offset: number }[] = [];
  let from = 0;
  for (const to of [...cuts, stream.byteLength]) {
    const out = d.push(stream.subarray(from, to));
    frames.push(...out.frames);
    from = to;
    if (out.broken !== undefined) {
      expect(out.broken).toBeInstanceOf(FramingError);
      return { frames, read: to, broken: out.broken };
    }
  }
  return { frames, read: stream.byteLength, end: d.end() };
}

/** Whether `gap` is only what a framing drops between frames. */
function isGap(framing: FramingInput, gap: Buffer, last: boolean): boolean {
  if (gap.byteLength === 0) return true;
  if (framing.kind === 'lines')
    return /^(\r?\n)*\r?$/.test(gap.toString('latin1')) && (last || gap.at(-1) === 0x0a);
  if (framing.kind !== 'delimiter') return false;
  const delimiter = Buffer.from(framing.delimiter.hex!, 'hex');
  if (gap.byteLength % delimiter.byteLength !== 0) return false;
  for (let at = 0; at < gap.byteLength; at += delimiter.byteLength)
    if (!gap.subarray(at, at + delimiter.byteLength).equals(delimiter)) return false;
  return true;
}

describe('deframer fuzzing', () => {
  it('frames, gaps, broken bytes and leftovers reassemble to exactly the bytes read', () => {
    fc.assert(
      fc.property(
        framings,
        streams.chain((s) => fc.tuple(fc.constant(s), splitsOf(s.byteLength))),
        (framing, [stream, cuts]) => {
          const outcome = run(framing, stream, cuts);
          const input = Buffer.from(stream.subarray(0, outcome.read));
          let cursor = 0;
          const frames = [...outcome.frames];
          const tail = outcome.end;
          if (tail !== undefined && !(tail instanceof FramingError)) frames.push(tail);
          for (const frame of frames) {
            expect(frame.offset).toBeGreaterThanOrEqual(cursor);
            expect(isGap(framing, input.subarray(cursor, frame.offset), false)).toBe(true);
            expect(
              Buffer.from(frame.bytes).equals(
                input.subarray(frame.offset, frame.offset + frame.bytes.byteLength),
              ),
            ).toBe(true);
            if (framing.kind !== 'fixed' && framing.kind !== 'length-prefix')
              expect(frame.bytes.byteLength).toBeLessThanOrEqual(framing.maxFrameBytes ?? 65_536);
            cursor = frame.offset + frame.bytes.byteLength;
          }
          const rest = outcome.broken ?? (tail instanceof FramingError ? tail : undefined);
          const restBytes = rest === undefined ? Buffer.alloc(0) : Buffer.from(rest.bytes);
          expect(input.subarray(input.byteLength - restBytes.byteLength).equals(restBytes)).toBe(true);
          expect(isGap(framing, input.subarray(cursor, input.byteLength - restBytes.byteLength), true)).toBe(
            true,
          );
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('gives the same frames, and breaks at the same offset, whatever the chunk boundaries', () => {
    fc.assert(
      fc.property(
        framings,
        streams.chain((s) => fc.tuple(fc.constant(s), splitsOf(s.byteLength))),
        (framing, [stream, cuts]) => {
          const whole = run(framing, stream, []);
          const chunked = run(framing, stream, cuts);
          const view = (o: Outcome) =>
            o.frames.map((f) => `${f.offset}:${Buffer.from(f.bytes).toString('hex')}`);
          expect(view(chunked)).toEqual(view(whole));
          expect(chunked.broken === undefined).toBe(whole.broken === undefined);
          if (whole.broken !== undefined && chunked.broken !== undefined)
            expect(chunked.read - chunked.broken.bytes.byteLength).toBe(
              whole.read - whole.broken.bytes.byteLength,
            );
          else {
            const tail = (o: Outcome) =>
              o.end === undefined ? '' : Buffer.from(o.end.bytes).toString('hex');
            expect(tail(chunked)).toBe(tail(whole));
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});
