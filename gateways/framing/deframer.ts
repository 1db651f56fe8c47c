/**
 * Cuts a byte stream (a TCP connection, a binary dump, a log file) into messages, by one of the
 * framings devices use: a length prefix, a delimiter, lines, or a fixed size. One definition for the
 * TCP gateway and the file gateway. A frame keeps its header and length field (a product spec decodes
 * the whole frame) unless `keep: rest` says they are a transport's, not the device's; a delimiter is not part of its frame, and an empty frame between two delimiters
 * (a flag byte that both ends and starts frames) is no message.
 *
 * Broken framing (a length past `maxFrameBytes`, no delimiter within it) throws a `FramingError` that
 * carries the bytes it could not frame, so that the caller keeps them as a dead letter; the stream
 * cannot be resynchronised after it, so the caller ends it (closes the connection, stops the file).
 */
import { z } from 'zod';

const hexOrText = z
  .object({
    hex: z
      .string()
      .regex(/^([0-9a-fA-F]{2})+$/, 'pairs of hex digits')
      .optional()
      .describe('the bytes as hex, e.g. 7e'),
    text: z.string().min(1).optional().describe('the bytes as UTF-8 text, e.g. "\\n"'),
  })
  .strict()
  .refine((b) => (b.hex === undefined) !== (b.text === undefined), 'give exactly one of hex, text');

/**
 * The largest message: a binary one travels base64 in its envelope (4/3 of its size), and the
 * envelope must fit a Kinesis record (1 MiB with its key).
 */
const MAX_MESSAGE_BYTES = 512 * 1024;

const maxFrameBytes = z
  .number()
  .int()
  .min(1)
  .max(MAX_MESSAGE_BYTES)
  .default(64 * 1024)
  .describe('a longer frame breaks the framing (dead letter, end of the connection)');

/** The framing of a byte stream, as configured. */
export const framingSchema = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('length-prefix'),
      lengthBytes: z
        .union([z.literal(1), z.literal(2), z.literal(4)])
        .default(2)
        .describe('size of the length field'),
      endian: z.enum(['big', 'little']).default('big'),
      lengthOffset: z
        .number()
        .int()
        .min(0)
        .max(64)
        .default(0)
        .describe('bytes before the length field (a start marker, a header)'),
      lengthCounts: z
        .enum(['rest', 'frame'])
        .default('rest')
        .describe('rest: the length counts the bytes after the length field; frame: the whole frame'),
      lengthAdjust: z
        .number()
        .int()
        .min(-64)
        .max(64)
        .default(0)
        .describe('bytes to add to the length (a checksum or trailer it does not count)'),
      keep: z
        .enum(['frame', 'rest'])
        .default('frame')
        .describe(
          "frame: the message is the whole frame (its spec decodes the header and length); rest: the bytes after the length field (a transport header around the device's own frame)",
        ),
      maxFrameBytes,
    })
    .strict(),
  z
    .object({
      kind: z.literal('delimiter'),
      delimiter: hexOrText.describe('the bytes that end a frame'),
      maxFrameBytes,
    })
    .strict(),
  z
    .object({
      kind: z.literal('lines'),
      maxFrameBytes,
    })
    .strict()
    .describe('text lines ending in \\n (a \\r before it is dropped); empty lines are skipped'),
  z
    .object({
      kind: z.literal('fixed'),
      frameBytes: z.number().int().min(1).max(MAX_MESSAGE_BYTES).describe('every frame has this size'),
    })
    .strict(),
]);
export type Framing = z.output<typeof framingSchema>;
export type FramingInput = z.input<typeof framingSchema>;

/** Bytes that cannot be framed, and why. */
export class FramingError extends Error {
  override readonly name = 'FramingError';
  constructor(
    message: string,
    /** The bytes from the start of the broken frame to the end of what was read. */
    readonly bytes: Uint8Array,
  ) {
    super(message);
  }
}

/** A frame and where it starts in the stream (byte offset). */
export interface Frame {
  readonly bytes: Uint8Array;
  readonly offset: number;
}

const LF = 0x0a;
const CR = 0x0d;

/** Cuts frames out of a byte stream; see the file's comment. */
export class Deframer {
  /** The bytes read and not yet framed: a view into `storage`. */
  private pending: Buffer = Buffer.alloc(0);
  /** Grows by doubling, so that a frame read in many small chunks is copied a bounded number of times. */
  private storage: Buffer = Buffer.alloc(0);
  /** Stream offset of `pending[0]`. */
  private start = 0;
  /** Bytes from `pending[0]` already searched for the delimiter, so that a read does not search them again. */
  private searched = 0;
  private readonly delimiter: Buffer | undefined;

  constructor(private readonly framing: Framing) {
    if (framing.kind === 'delimiter')
      this.delimiter =
        framing.delimiter.hex !== undefined
          ? Buffer.from(framing.delimiter.hex, 'hex')
          : Buffer.from(framing.delimiter.text ?? '', 'utf8');
    else if (framing.kind === 'lines') this.delimiter = Buffer.of(LF);
  }

  /** Bytes at the start of each frame that are not part of its message (`keep: rest`). */
  private get headerDropped(): number {
    const f = this.framing;
    return f.kind === 'length-prefix' && f.keep === 'rest' ? f.lengthOffset + f.lengthBytes : 0;
  }

  /** Bytes read but not yet a whole frame. */
  get buffered(): number {
    return this.pending.byteLength;
  }

  /**
   * Takes the next bytes of the stream; returns the frames they complete, in order, and, when the
   * framing broke after them, the error with the bytes that could not be framed (the deframer then
   * holds nothing; the stream should end).
   */
  push(chunk: Uint8Array): { frames: Frame[]; broken?: FramingError } {
    this.append(chunk);
    const frames: Frame[] = [];
    let at = 0;
    for (;;) {
      let cut: [number, number] | undefined;
      try {
        cut = this.next(at);
      } catch (error) {
        if (error instanceof FramingError) return { frames, broken: error };
        throw error;
      }
      if (cut === undefined) break;
      const [end, skip] = cut;
      const bytes = this.pending.subarray(at + this.headerDropped, end);
      if (bytes.byteLength > 0 || this.delimiter === undefined)
        frames.push({ bytes: Uint8Array.from(bytes), offset: this.start + at });
      at = end + skip;
    }
    this.pending = this.pending.subarray(at);
    this.start += at;
    return { frames };
  }

  /**
   * The end of the stream: the bytes left over, a frame that never ended, as a `FramingError`
   * (undefined when nothing is left). A last line without its newline is a frame.
   */
  end(): Frame | FramingError | undefined {
    const rest = Uint8Array.from(this.pending);
    const offset = this.start;
    this.start += rest.byteLength;
    this.pending = Buffer.alloc(0);
    this.searched = 0;
    if (rest.byteLength === 0) return undefined;
    if (this.framing.kind === 'lines') {
      const line = rest.at(-1) === CR ? rest.subarray(0, -1) : rest;
      return line.byteLength === 0 ? undefined : { bytes: line, offset };
    }
    return new FramingError(
      `the stream ended inside a frame (${rest.byteLength} bytes at offset ${offset})`,
      rest,
    );
  }

  /** Where the frame starting at `at` ends and how many bytes follow it that belong to no frame. */
  private next(at: number): [end: number, skip: number] | undefined {
    const available = this.pending.byteLength - at;
    const framing = this.framing;
    switch (framing.kind) {
      case 'fixed':
        return available >= framing.frameBytes ? [at + framing.frameBytes, 0] : undefined;
      case 'length-prefix': {
        const header = framing.lengthOffset + framing.lengthBytes;
        if (available < header) return undefined;
        const field = at + framing.lengthOffset;
        const value =
          framing.lengthBytes === 1
            ? this.pending.readUInt8(field)
            : framing.lengthBytes === 2
              ? framing.endian === 'big'
                ? this.pending.readUInt16BE(field)
                : this.pending.readUInt16LE(field)
              : framing.endian === 'big'
                ? this.pending.readUInt32BE(field)
                : this.pending.readUInt32LE(field);
        const total = (framing.lengthCounts === 'rest' ? header + value : value) + framing.lengthAdjust;
        if (total < header || total > framing.maxFrameBytes)
          throw this.broken(
            at,
            `a length field of ${value} makes a frame of ${total} bytes, outside ${header}..${framing.maxFrameBytes}`,
          );
        return available >= total ? [at + total, 0] : undefined;
      }
      case 'delimiter':
      case 'lines': {
        const delimiter = this.delimiter!;
        const from = at + Math.max(0, this.searched - delimiter.byteLength + 1);
        const found = this.pending.indexOf(delimiter, from);
        if (found === -1) {
          if (available > framing.maxFrameBytes + delimiter.byteLength - 1)
            throw this.broken(at, `no delimiter within ${framing.maxFrameBytes} bytes`);
          this.searched = available; // the frame at `at` becomes pending[0]
          return undefined;
        }
        this.searched = 0;
        if (found - at > framing.maxFrameBytes)
          throw this.broken(at, `a frame of ${found - at} bytes, over ${framing.maxFrameBytes}`);
        const end =
          framing.kind === 'lines' && found > at && this.pending[found - 1] === CR ? found - 1 : found;
        return [end, found - end + delimiter.byteLength];
      }
    }
  }

  /** Appends `chunk` to `pending`, in place when `storage` has room after it. */
  private append(chunk: Uint8Array): void {
    const length = this.pending.byteLength;
    if (length === 0) {
      this.pending = Buffer.from(chunk);
      this.storage = this.pending;
      return;
    }
    const offset = this.pending.byteOffset - this.storage.byteOffset;
    if (
      this.pending.buffer === this.storage.buffer &&
      offset + length + chunk.byteLength <= this.storage.byteLength
    ) {
      this.storage.set(chunk, offset + length);
      this.pending = this.storage.subarray(offset, offset + length + chunk.byteLength);
      return;
    }
    const grown = Buffer.allocUnsafe(Math.max(2 * (length + chunk.byteLength), 4096));
    this.pending.copy(grown, 0);
    grown.set(chunk, length);
    this.storage = grown;
    this.pending = grown.subarray(0, length + chunk.byteLength);
  }

  private broken(at: number, reason: string): FramingError {
    const bytes = Uint8Array.from(this.pending.subarray(at));
    this.pending = Buffer.alloc(0);
    this.searched = 0;
    this.start += at + bytes.byteLength;
    return new FramingError(`${reason} (at stream offset ${this.start - bytes.byteLength})`, bytes);
  }
}
