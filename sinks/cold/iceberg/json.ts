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

const BIG = '\u0000bigint:';

/**
 * Parses JSON, reading integers beyond 2^53 as bigints. The native parser does the work: integers a
 * double cannot hold are first quoted with a marker (NUL cannot appear raw in JSON, so only an escaped
 * `\u0000` could forge one; such text goes to the hand-written parser), and turned into bigints by a
 * reviver. Metadata of a table with a thousand snapshots is a megabyte, read on every commit.
 */
export function parseJson(text: string): JsonValue {
  if (text.includes('\\u0000')) return parseJsonByHand(text);
  let quoted = '';
  let last = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 34) {
      // A string: skip to its closing quote.
      for (i++; i < n; i++) {
        const d = text.charCodeAt(i);
        if (d === 92) i++;
        else if (d === 34) break;
      }
    } else if (c === 45 || (c >= 48 && c <= 57)) {
      const start = i;
      i++;
      while (i < n && text.charCodeAt(i) >= 48 && text.charCodeAt(i) <= 57) i++;
      const next = text.charCodeAt(i);
      if (next === 46 || next === 101 || next === 69) {
        // A fraction or an exponent: a double whatever its digits.
        while (i < n && /[0-9.eE+-]/.test(text[i]!)) i++;
      } else if (i - start >= 16 && !Number.isSafeInteger(Number(text.slice(start, i)))) {
        quoted += `${text.slice(last, start)}"\\u0000bigint:${text.slice(start, i)}"`;
        last = i;
      }
      i--;
    }
  }
  try {
    if (last === 0) return JSON.parse(text) as JsonValue;
    quoted += text.slice(last);
    return JSON.parse(quoted, (_key, value) =>
      typeof value === 'string' && value.startsWith(BIG) ? BigInt(value.slice(BIG.length)) : value,
    ) as JsonValue;
  } catch (error) {
    throw new Error(`invalid JSON: ${(error as Error).message}`);
  }
}

/** The same, character by character: for text holding an escaped NUL, and as the tests' reference. */
export function parseJsonByHand(text: string): JsonValue {
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
        // an own property even for "__proto__", as JSON.parse makes it (assignment would set the prototype)
        Object.defineProperty(out, key, {
          value: value(),
          enumerable: true,
          writable: true,
          configurable: true,
        });
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
