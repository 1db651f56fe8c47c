/**
 * Cuts a file's bytes into the records the gateway puts: the deframer's frames, each with its place
 * in the file (byte offset, and line number for text), and, for a CSV file with a header, the header
 * line put before every record's data lines so that the CSV spec decodes each record on its own.
 *
 * A record also says where the file resumes after it (`end`, and `endLine`: the line ends before
 * `end`), which is what the progress keeps. A cutter can start in the middle of a file at such a
 * point, with the header it read before.
 */
import { Deframer, type Frame, type Framing, FramingError } from '../framing/deframer.ts';

/** One record of a file. */
export interface FileRecord {
  readonly payload: Uint8Array;
  /** Byte offset of the record's first frame. */
  readonly offset: number;
  /** Line number (1-based) of the record's first data line; 0 for binary framings. */
  readonly line: number;
  /** Where the file resumes after this record. */
  readonly end: number;
  /** Line ends before `end` (text framings). */
  readonly endLine: number;
}

/** Bytes the framing could not cut, where they start and why. */
export interface BrokenBytes {
  readonly bytes: Uint8Array;
  readonly offset: number;
  readonly reason: string;
}

/** What one step of cutting gives. */
export interface CutResult {
  readonly records: FileRecord[];
  readonly broken?: BrokenBytes;
}

/** Where a cutter starts: a record boundary written by the progress, or the file's start. */
export interface CutStart {
  readonly offset: number;
  readonly line: number;
  /** The header line read before `offset` (header: repeat). */
  readonly header?: Uint8Array | undefined;
}

/** How records are made of frames. */
export interface CutOptions {
  readonly framing: Framing;
  readonly header: 'none' | 'repeat';
  readonly linesPerRecord: number;
}

const LF = 0x0a;

function countLineEnds(bytes: Uint8Array, from: number, to: number): number {
  let count = 0;
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = buffer.indexOf(LF, from);
  while (at !== -1 && at < to) {
    count++;
    at = buffer.indexOf(LF, at + 1);
  }
  return count;
}

interface PlacedFrame {
  readonly bytes: Uint8Array;
  readonly offset: number;
  readonly line: number;
}

/** Cuts a file into records; see the file's comment. */
export class FileRecordCutter {
  private readonly deframer: Deframer;
  private readonly text: boolean;
  private readonly trailer: number;
  /** File offset where the cutter started (the deframer counts from 0 there). */
  private readonly origin: number;
  /** File offset of the next byte pushed. */
  private read: number;
  /** Line ends counted before `counted`. */
  private lineEnds: number;
  private counted: number;
  private headerLine: Uint8Array | undefined;
  private group: PlacedFrame[] = [];

  constructor(
    private readonly options: CutOptions,
    start: CutStart = { offset: 0, line: 0 },
  ) {
    this.deframer = new Deframer(options.framing);
    this.text = options.framing.kind === 'lines';
    const { framing } = options;
    this.trailer =
      framing.kind !== 'delimiter'
        ? 0
        : framing.delimiter.hex !== undefined
          ? framing.delimiter.hex.length / 2
          : Buffer.byteLength(framing.delimiter.text ?? '', 'utf8');
    this.origin = start.offset;
    this.read = start.offset;
    this.counted = start.offset;
    this.lineEnds = start.line;
    this.headerLine = start.header;
  }

  /** The header line, once read (header: repeat). */
  get header(): Uint8Array | undefined {
    return this.headerLine;
  }

  /** Takes the file's next bytes; returns the records they complete, and the broken bytes if any. */
  push(chunk: Uint8Array): CutResult {
    const base = this.read;
    this.read += chunk.byteLength;
    const out = this.deframer.push(chunk);
    const records: FileRecord[] = [];
    for (const frame of out.frames) this.take(this.place(frame, chunk, base), records);
    if (this.text) this.countTo(chunk, base, this.read);
    if (out.broken === undefined) return { records };
    return { records, broken: this.brokenOf(out.broken) };
  }

  /** The end of the file: the last records, and the bytes of a frame that never ended. */
  end(): CutResult {
    const last = this.deframer.end();
    const records: FileRecord[] = [];
    let broken: BrokenBytes | undefined;
    if (last instanceof FramingError) broken = this.brokenOf(last);
    else if (last !== undefined)
      this.take(
        { bytes: last.bytes, offset: this.origin + last.offset, line: this.text ? this.lineEnds + 1 : 0 },
        records,
      );
    if (this.group.length > 0) records.push(this.recordOf(this.group));
    this.group = [];
    return broken === undefined ? { records } : { records, broken };
  }

  private brokenOf(error: FramingError): BrokenBytes {
    return { bytes: error.bytes, offset: this.read - error.bytes.byteLength, reason: error.message };
  }

  /** Gives a frame its file offset and line, counting the line ends before it. */
  private place(frame: Frame, chunk: Uint8Array, base: number): PlacedFrame {
    const offset = this.origin + frame.offset;
    if (this.text) this.countTo(chunk, base, offset);
    return { bytes: frame.bytes, offset, line: this.text ? this.lineEnds + 1 : 0 };
  }

  /**
   * Counts the line ends of `chunk` (pushed at `base`) before file offset `to`. Bytes pushed before
   * `chunk` and not yet counted hold none: the deframer keeps only a partial line between pushes.
   */
  private countTo(chunk: Uint8Array, base: number, to: number): void {
    if (to <= this.counted) return;
    const from = Math.max(this.counted, base) - base;
    const until = Math.min(to, base + chunk.byteLength) - base;
    if (until > from) this.lineEnds += countLineEnds(chunk, from, until);
    this.counted = to;
  }

  private take(frame: PlacedFrame, records: FileRecord[]): void {
    if (this.options.header === 'none') {
      records.push(this.recordOf([frame]));
      return;
    }
    if (this.headerLine === undefined) {
      this.headerLine = frame.bytes;
      return;
    }
    this.group.push(frame);
    if (this.group.length === this.options.linesPerRecord) {
      records.push(this.recordOf(this.group));
      this.group = [];
    }
  }

  private recordOf(frames: readonly PlacedFrame[]): FileRecord {
    const first = frames[0]!;
    const last = frames.at(-1)!;
    const end = last.offset + last.bytes.byteLength + this.trailer;
    const endLine = this.text ? last.line - 1 : 0;
    if (this.options.header === 'none')
      return { payload: first.bytes, offset: first.offset, line: first.line, end, endLine };
    const parts = [this.headerLine!, ...frames.map((f) => f.bytes)];
    const size = parts.reduce((n, p) => n + p.byteLength, 0) + parts.length - 1;
    const payload = new Uint8Array(size);
    let at = 0;
    parts.forEach((part, i) => {
      if (i > 0) payload[at++] = LF;
      payload.set(part, at);
      at += part.byteLength;
    });
    return { payload, offset: first.offset, line: first.line, end, endLine };
  }
}
