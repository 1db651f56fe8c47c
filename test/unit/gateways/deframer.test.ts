/**
 * The deframer on every framing kind: the same frames (bytes and stream offsets) whatever the chunk
 * boundaries, `maxFrameBytes` enforced with the broken bytes kept, and what `end()` leaves over.
 */
import { describe, expect, it } from 'vitest';
import {
  Deframer,
  type Frame,
  FramingError,
  type FramingInput,
  framingSchema,
} from '../../../gateways/framing/deframer.ts';

const bytes = (...values: number[]) => Uint8Array.from(values);
const text = (s: string) => new TextEncoder().encode(s);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function deframer(input: FramingInput): Deframer {
  return new Deframer(framingSchema.parse(input));
}

interface Cut {
  readonly frames: { hex: string; offset: number }[];
  readonly broken?: { hex: string; message: string };
  readonly end?: { hex: string; frame: boolean };
}

/** Pushes `stream` in the given chunks (stopping at broken framing), then ends it. */
function cut(input: FramingInput, stream: Uint8Array, boundaries: readonly number[]): Cut {
  const d = deframer(input);
  const frames: Frame[] = [];
  let from = 0;
  for (const to of [...boundaries, stream.byteLength]) {
    const out = d.push(stream.subarray(from, to));
    frames.push(...out.frames);
    from = to;
    if (out.broken !== undefined) {
      expect(d.buffered).toBe(0);
      return {
        frames: frames.map((f) => ({ hex: hex(f.bytes), offset: f.offset })),
        broken: { hex: hex(out.broken.bytes), message: out.broken.message },
      };
    }
  }
  const rest = d.end();
  return {
    frames: frames.map((f) => ({ hex: hex(f.bytes), offset: f.offset })),
    ...(rest === undefined ? {} : { end: { hex: hex(rest.bytes), frame: !(rest instanceof FramingError) } }),
  };
}

/** Every split of `stream` into two chunks, and into single bytes, gives `expected`. */
function everyBoundary(input: FramingInput, stream: Uint8Array, expected: Cut): void {
  expect(cut(input, stream, [])).toEqual(expected);
  for (let at = 0; at <= stream.byteLength; at++) expect(cut(input, stream, [at])).toEqual(expected);
  const single = Array.from({ length: stream.byteLength }, (_, i) => i);
  expect(cut(input, stream, single)).toEqual(expected);
}

describe('length-prefix framing', () => {
  it('cuts 2-byte big-endian frames (the frame keeps its length field) at every chunk boundary', () => {
    const stream = bytes(0, 3, 1, 2, 3, 0, 0, 0, 1, 9);
    everyBoundary({ kind: 'length-prefix' }, stream, {
      frames: [
        { hex: '0003010203', offset: 0 },
        { hex: '0000', offset: 5 },
        { hex: '000109', offset: 7 },
      ],
    });
  });

  it('gives only the bytes after the length field with keep: rest (a transport header around the device frame)', () => {
    const stream = bytes(0, 3, 0xaa, 0x55, 7, 0, 1, 9);
    everyBoundary({ kind: 'length-prefix', keep: 'rest' }, stream, {
      frames: [
        { hex: 'aa5507', offset: 0 },
        { hex: '09', offset: 5 },
      ],
    });
  });

  it('reads 1- and 4-byte fields, little-endian, after a marker, counting the whole frame, with a trailer', () => {
    everyBoundary({ kind: 'length-prefix', lengthBytes: 1 }, bytes(2, 7, 8, 1, 5), {
      frames: [
        { hex: '020708', offset: 0 },
        { hex: '0105', offset: 3 },
      ],
    });
    everyBoundary(
      { kind: 'length-prefix', lengthBytes: 4, endian: 'little' },
      bytes(1, 0, 0, 0, 0xaa, 0, 0, 0, 0),
      {
        frames: [
          { hex: '01000000aa', offset: 0 },
          { hex: '00000000', offset: 5 },
        ],
      },
    );
    // a 0x7e marker, a 1-byte length of the whole frame, and a 1-byte checksum the length leaves out
    everyBoundary(
      { kind: 'length-prefix', lengthBytes: 1, lengthOffset: 1, lengthCounts: 'frame', lengthAdjust: 1 },
      bytes(0x7e, 4, 0xa, 0xb, 0xcc, 0x7e, 2, 0xdd),
      {
        frames: [
          { hex: '7e040a0bcc', offset: 0 },
          { hex: '7e02dd', offset: 5 },
        ],
      },
    );
  });

  it('breaks on a length past maxFrameBytes, keeping the frames before and the bytes from the broken one', () => {
    const stream = bytes(0, 1, 0xaa, 0, 9, 1, 2, 3);
    for (let at = 0; at <= stream.byteLength; at++) {
      const out = cut({ kind: 'length-prefix', maxFrameBytes: 8 }, stream, [at]);
      expect(out.frames).toEqual([{ hex: '0001aa', offset: 0 }]);
      // the bytes from the broken frame's start to the end of what was read when it broke
      expect(out.broken?.message).toMatch(
        /length field of 9 makes a frame of 11 bytes, outside 2\.\.8.*offset 3/,
      );
      expect(hex(stream.subarray(3)).startsWith(out.broken!.hex)).toBe(true);
      expect(out.broken!.hex.startsWith('0009')).toBe(true);
    }
  });

  it('breaks on a length that makes a frame shorter than its header', () => {
    const out = cut({ kind: 'length-prefix', lengthBytes: 1, lengthCounts: 'frame' }, bytes(0), []);
    expect(out.broken?.message).toMatch(/frame of 0 bytes, outside 1\.\./);
    expect(out.broken?.hex).toBe('00');
  });

  it('keeps the bytes of an unfinished frame as a FramingError at the end, and nothing when none are left', () => {
    expect(cut({ kind: 'length-prefix' }, bytes(0, 5, 1, 2), [])).toEqual({
      frames: [],
      end: { hex: '00050102', frame: false },
    });
    expect(cut({ kind: 'length-prefix' }, bytes(0, 0), [])).toEqual({ frames: [{ hex: '0000', offset: 0 }] });
    const d = deframer({ kind: 'length-prefix' });
    d.push(bytes(0));
    const rest = d.end();
    expect(rest).toBeInstanceOf(FramingError);
    expect((rest as FramingError).message).toMatch(/ended inside a frame \(1 bytes at offset 0\)/);
    expect(d.end()).toBeUndefined();
  });
});

describe('delimiter framing', () => {
  it('cuts at a two-byte delimiter, split anywhere (also inside the delimiter); empty frames are no messages', () => {
    const stream = text('ab\r\n\r\nc\r\n\r\nxyz');
    everyBoundary({ kind: 'delimiter', delimiter: { hex: '0d0a' } }, stream, {
      frames: [
        { hex: hex(text('ab')), offset: 0 },
        { hex: hex(text('c')), offset: 6 },
      ],
      end: { hex: hex(text('xyz')), frame: false },
    });
  });

  it('cuts at a text delimiter, a flag byte that both ends and starts frames', () => {
    everyBoundary({ kind: 'delimiter', delimiter: { hex: '7e' } }, bytes(0x7e, 1, 2, 0x7e, 0x7e, 3, 0x7e), {
      frames: [
        { hex: '0102', offset: 1 },
        { hex: '03', offset: 5 },
      ],
    });
    everyBoundary({ kind: 'delimiter', delimiter: { text: '|' } }, text('a|bc|'), {
      frames: [
        { hex: hex(text('a')), offset: 0 },
        { hex: hex(text('bc')), offset: 2 },
      ],
    });
  });

  it('takes a frame of exactly maxFrameBytes, its delimiter arriving later, and breaks one byte past it', () => {
    const framing: FramingInput = { kind: 'delimiter', delimiter: { hex: '0d0a' }, maxFrameBytes: 4 };
    everyBoundary(framing, text('abcd\r\n'), { frames: [{ hex: hex(text('abcd')), offset: 0 }] });
    for (let at = 0; at <= 7; at++) {
      const out = cut(framing, text('ok\r\nabcde\r\n'), [at]);
      expect(out.frames).toEqual([{ hex: hex(text('ok')), offset: 0 }]);
      expect(out.broken?.message).toMatch(
        /(no delimiter within 4 bytes|a frame of 5 bytes, over 4).*offset 4/,
      );
      expect(hex(text('abcde\r\n')).startsWith(out.broken!.hex)).toBe(true);
    }
    // without any delimiter: broken as soon as more bytes than a frame and a partial delimiter arrived
    const d = deframer(framing);
    expect(d.push(text('abcd\r')).broken).toBeUndefined();
    expect(d.push(text('x')).broken?.bytes).toEqual(text('abcd\rx'));
  });

  it('searches a long frame read byte by byte in linear time', () => {
    const d = deframer({ kind: 'delimiter', delimiter: { text: '\n' }, maxFrameBytes: 1024 * 1024 });
    const started = performance.now();
    let frames = 0;
    for (let i = 0; i < 512 * 1024; i++) frames += d.push(bytes(0x41)).frames.length;
    expect(frames).toBe(0);
    expect(d.push(text('\n')).frames[0]!.bytes.byteLength).toBe(512 * 1024);
    expect(performance.now() - started).toBeLessThan(3_000);
  });
});

describe('lines framing', () => {
  it('drops the \\r before \\n and skips empty lines; a last line without newline is a frame', () => {
    everyBoundary({ kind: 'lines' }, text('one\r\n\n\r\ntwo\nlast\r'), {
      frames: [
        { hex: hex(text('one')), offset: 0 },
        { hex: hex(text('two')), offset: 8 },
      ],
      end: { hex: hex(text('last')), frame: true },
    });
    expect(cut({ kind: 'lines' }, text('a\n\r'), [])).toEqual({
      frames: [{ hex: hex(text('a')), offset: 0 }],
    });
  });

  it('breaks on a line longer than maxFrameBytes', () => {
    const out = cut({ kind: 'lines', maxFrameBytes: 3 }, text('abc\nabcd\n'), []);
    expect(out.frames).toEqual([{ hex: hex(text('abc')), offset: 0 }]);
    expect(out.broken?.hex).toBe(hex(text('abcd\n')));
  });
});

describe('fixed framing', () => {
  it('cuts frames of one size; a short tail is left over', () => {
    everyBoundary({ kind: 'fixed', frameBytes: 3 }, bytes(1, 2, 3, 4, 5, 6, 7), {
      frames: [
        { hex: '010203', offset: 0 },
        { hex: '040506', offset: 3 },
      ],
      end: { hex: '07', frame: false },
    });
  });
});

describe('framing configuration', () => {
  it('takes defaults and refuses a delimiter given twice or not at all', () => {
    expect(framingSchema.parse({ kind: 'length-prefix' })).toMatchObject({
      lengthBytes: 2,
      endian: 'big',
      lengthCounts: 'rest',
      maxFrameBytes: 65536,
    });
    expect(framingSchema.safeParse({ kind: 'delimiter', delimiter: { hex: '0a', text: 'x' } }).success).toBe(
      false,
    );
    expect(framingSchema.safeParse({ kind: 'delimiter', delimiter: {} }).success).toBe(false);
    expect(framingSchema.safeParse({ kind: 'delimiter', delimiter: { hex: '0' } }).success).toBe(false);
  });
});
