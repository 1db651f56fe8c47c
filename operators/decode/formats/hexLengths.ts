/**
 * Hex frames whose fields take their length from an earlier field (`lengthFrom`: a name, say, after
 * the byte that gives its length). After such a field the offsets are no longer fixed, so the
 * generated reader keeps a cursor: the fields between two such fields are one run, checked against
 * the frame once and read at fixed offsets from the cursor, and the cursor moves past each run and
 * each field of a given length. A length that runs past the frame (or into its trailing checksum) is
 * `truncated` with the field, its length and its offset. A repeated group follows where the fields
 * end. Frames without `lengthFrom` never come here: their readers keep constant offsets (`hex.ts`).
 *
 * As the other readers, it is generated once per spec (`new Function`); the text holds only offsets,
 * sizes and indexes we computed and field names that pass the spec's name pattern.
 */
import type { BinaryField, HexFormat } from '../../../specs/schema.ts';
import { DecodeError } from '../errors.ts';
import type { DecodedFields, FieldValue } from '../frame.ts';
import { CodeBuilder, checkName, fieldSize, type Projection } from './binaryFields.ts';

/** Checks a frame's repeated groups that start at `start`; gives their count (`hex.ts`). */
export type GroupCheck = (count: FieldValue, bytes: Uint8Array, start: number) => number;

/** Reads one frame of bytes `0 .. end` (the checksum excluded); `aux` as in {@link Projection}. */
export type FrameReader = (
  view: DataView,
  bytes: Uint8Array,
  aux: FieldValue[],
  auxWidth: number,
  end: number,
) => DecodedFields[];

/** Fields read back to back at fixed offsets from the cursor. */
interface Run {
  readonly fields: { readonly name: string; readonly at: number; readonly size: number }[];
  size: number;
}

/**
 * Compiles a hex format with `lengthFrom` fields (validated by the schema: each names an earlier
 * u8, u16 or u32 field of `fields`; none in the repeated group). `checkGroups` is given with a
 * `repeat`.
 */
export function compileHexLengths(
  format: HexFormat,
  projection: Projection | undefined,
  checkGroups: GroupCheck | undefined,
): FrameReader {
  const enums: ((raw: number | string) => FieldValue | undefined)[] = [];
  const code = new CodeBuilder('v', enums, false, projection?.ids);
  const lengths = new Set(format.fields.flatMap((f) => (f.lengthFrom === undefined ? [] : [f.lengthFrom])));
  const lengthOf = new Map<string, string>();
  const runs: Run[] = [];
  const variable: BinaryField[] = [];
  const lines: string[] = ['let o = 0;'];
  let run: Run = { fields: [], size: 0 };
  let runCode = '';
  const closeRun = () => {
    if (run.size > 0) {
      runs.push(run);
      lines.push(
        `if (o + ${run.size} > end) k.truncated(${runs.length - 1}, o, end);`,
        runCode,
        `o += ${run.size};`,
      );
    }
    run = { fields: [], size: 0 };
    runCode = '';
  };
  for (const field of format.fields) {
    checkName(field.name);
    if (field.lengthFrom === undefined) {
      const size = fieldSize(field)!;
      const at = `o + ${run.size}`;
      if (lengths.has(field.name)) lengthOf.set(field.name, code.raw(field, at));
      code.field(field, at, String(size));
      runCode += code.take();
      run.fields.push({ name: field.name, at: run.size, size });
      run.size += size;
      continue;
    }
    closeRun();
    const n = lengthOf.get(field.lengthFrom);
    if (n === undefined) throw new Error(`field ${field.name}: no field ${field.lengthFrom} before it`);
    variable.push(field);
    lines.push(`if (o + ${n} > end) k.pastFrame(${variable.length - 1}, ${n}, o, end);`);
    code.field(field, 'o', n);
    lines.push(code.take(), `o += ${n};`);
  }
  closeRun();

  const groupCode = new CodeBuilder('w', enums);
  let groupSize = 0;
  for (const field of format.repeat?.fields ?? []) {
    groupCode.field(field, `g + ${groupSize}`, String(fieldSize(field)));
    groupSize += fieldSize(field)!;
  }
  const sourceOf = new Map<string, string>();
  for (const [name, local] of [...code.emits, ...groupCode.emits]) sourceOf.set(name, local);
  const keep = projection?.keep ?? [...sourceOf.keys()];
  const auxNames = projection?.aux ?? [];
  [...keep, ...auxNames].forEach(checkName);
  const value = (name: string) => sourceOf.get(name) ?? 'undefined';
  const literal = `{ ${keep.map((name) => `${JSON.stringify(name)}: ${value(name)}`).join(', ')} }`;
  if (format.repeat === undefined) {
    lines.push(
      'if (o !== end) k.trailing(o, end);',
      ...auxNames.map((name, j) => `aux[${j}] = ${value(name)};`),
      `return [${literal}];`,
    );
  } else {
    lines.push(
      `const count = k.checkGroups(${value(format.repeat.count)}, bytes, o);`,
      'const records = new Array(count);',
      `for (let i = 0, g = o; i < count; i++, g += ${groupSize}) {`,
      groupCode.take(),
      ...auxNames.map((name, j) => `aux[i * aw + ${j}] = ${value(name)};`),
      `records[i] = ${literal};`,
      '}',
      'return records;',
    );
  }
  return code.build<FrameReader>('readFrame', 'view, bytes, aux, aw, end', lines.join('\n'), {
    checkGroups,
    truncated(i: number, o: number, end: number): never {
      const f = runs[i]!.fields.find((l) => o + l.at + l.size > end)!;
      throw new DecodeError(
        'truncated',
        `field ${f.name} needs ${f.size} bytes at offset ${o + f.at}, frame has ${end}`,
      );
    },
    pastFrame(i: number, n: number, o: number, end: number): never {
      const field = variable[i]!;
      throw new DecodeError(
        'truncated',
        `field ${field.name} of length ${n} (from ${field.lengthFrom}) at offset ${o} runs past the frame of ${end} bytes`,
      );
    },
    trailing(o: number, end: number): never {
      throw new DecodeError('trailing-bytes', `${end - o} bytes left after offset ${o}`);
    },
  });
}
