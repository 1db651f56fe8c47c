/**
 * JSON for Iceberg metadata, safe for 63-bit ids. `JSON.parse` turns `6838723292707092922` into a
 * rounded double; here an integer that a double cannot hold exactly is read as a `bigint`, and a
 * `bigint` is written as its digits.
 */

/** A JSON value whose large integers are bigints. */
export type JsonValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | JsonValue[]
  | { [key: string]: JsonValue };

const LITERALS: readonly [string, JsonValue][] = [
  ['true', true],
  ['false', false],
  ['null', null],
];

/** Parses JSON, reading integers beyond 2^53 as bigints. */
export function parseJson(text: string): JsonValue {
  let i = 0;
  const fail = (what: string): never => {
    throw new Error(`invalid JSON at offset ${i}: ${what}`);
  };
  const skip = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const value = (): JsonValue => {
    skip();
    const c = text[i];
    if (c === '{') {
      i++;
      const out: { [key: string]: JsonValue } = {};
      skip();
      if (text[i] === '}') {
        i++;
        return out;
      }
      for (;;) {
        skip();
        if (text[i] !== '"') fail('expected a key');
        const key = string();
        skip();
        if (text[i++] !== ':') fail('expected ":"');
        out[key] = value();
        skip();
        const sep = text[i++];
        if (sep === '}') return out;
        if (sep !== ',') fail('expected "," or "}"');
      }
    }
    if (c === '[') {
      i++;
      const out: JsonValue[] = [];
      skip();
      if (text[i] === ']') {
        i++;
        return out;
      }
      for (;;) {
        out.push(value());
        skip();
        const sep = text[i++];
        if (sep === ']') return out;
        if (sep !== ',') fail('expected "," or "]"');
      }
    }
    if (c === '"') return string();
    for (const [word, literal] of LITERALS) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return literal;
      }
    }
    return number();
  };
  const string = (): string => {
    const start = i;
    i++;
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    if (i >= text.length) fail('unterminated string');
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const number = (): number | bigint => {
    const match = /^-?\d+(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (!match) return fail('unexpected character');
    i += match[0].length;
    if (match[1] === undefined && match[2] === undefined) {
      const n = Number(match[0]);
      return Number.isSafeInteger(n) ? n : BigInt(match[0]);
    }
    return Number(match[0]);
  };
  const result = value();
  skip();
  if (i !== text.length) fail('trailing characters');
  return result;
}

/** Writes JSON (two-space indent), bigints as plain digits; `undefined` members are left out. */
export function stringifyJson(value: unknown, indent = '  '): string {
  const write = (v: unknown, pad: string): string => {
    if (v === null) return 'null';
    if (typeof v === 'bigint') return v.toString();
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) throw new Error(`cannot write ${v} as JSON`);
      return JSON.stringify(v);
    }
    if (typeof v === 'string' || typeof v === 'boolean') return JSON.stringify(v);
    const inner = pad + indent;
    if (Array.isArray(v)) {
      if (v.length === 0) return '[]';
      return `[\n${v.map((e) => inner + write(e, inner)).join(',\n')}\n${pad}]`;
    }
    if (typeof v === 'object') {
      const entries = Object.entries(v as Record<string, unknown>).filter(([, e]) => e !== undefined);
      if (entries.length === 0) return '{}';
      return `{\n${entries.map(([k, e]) => `${inner}${JSON.stringify(k)}: ${write(e, inner)}`).join(',\n')}\n${pad}}`;
    }
    throw new Error(`cannot write a ${typeof v} as JSON`);
  };
  return write(value, '');
}
