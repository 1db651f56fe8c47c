/**
 * The field-by-field reference of the spec language (`specs/REFERENCE.md`), generated from the spec's
 * JSON Schema (`specJsonSchema`, itself from the zod schema): one table per mapping with every key,
 * its type, default and description, and the binary types with their sizes, byte order and bit
 * order as the decoders in `operators/decode/formats/` read them. A test keeps the committed file
 * equal to what this produces; `npm run shardflow -- specs reference --out specs/REFERENCE.md`
 * writes it again.
 */
import { specJsonSchema } from './schema.ts';

/** The command that writes `specs/REFERENCE.md` again. */
export const REFERENCE_COMMAND = 'npm run shardflow -- specs reference --out specs/REFERENCE.md';

/** A JSON Schema node, as much of it as the reference reads. */
interface Node {
  type?: string | string[];
  description?: string;
  default?: unknown;
  enum?: unknown[];
  const?: unknown;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  properties?: Record<string, Node>;
  required?: string[];
  additionalProperties?: Node | boolean;
  propertyNames?: Node;
  items?: Node;
  anyOf?: Node[];
  oneOf?: Node[];
}

/**
 * How each binary type is read, from the readers in `operators/decode/formats/binaryFields.ts`. A
 * type the schema gains without a line here shows as not described, so the reference says so.
 */
const BINARY_TYPES: Readonly<Record<string, string>> = {
  u8: '1 byte, unsigned',
  u16: '2 bytes, unsigned; byte order by `endian` (default big: most significant byte first)',
  u32: '4 bytes, unsigned; byte order by `endian`',
  u64: '8 bytes, unsigned; byte order by `endian`; a value above 2^53 − 1 becomes its decimal string',
  i8: '1 byte, two’s complement',
  i16: '2 bytes, two’s complement; byte order by `endian`',
  i32: '4 bytes, two’s complement; byte order by `endian`',
  i64: '8 bytes, two’s complement; byte order by `endian`; beyond ±(2^53 − 1) its decimal string',
  f32: '4 bytes, IEEE 754 single precision; byte order by `endian`',
  f64: '8 bytes, IEEE 754 double precision; byte order by `endian`',
  bcd: '`length` bytes of packed BCD, two decimal digits a byte, high nibble first, first byte most significant (`0x12 0x34` is 1234); up to 7 bytes a number, longer ones the digits as a string; a nibble above 9 is a `bad-value` dead letter; `endian` does not apply',
  ascii:
    '`length` bytes of 7-bit ASCII, trailing NUL (0x00) and space bytes dropped; a byte above 0x7F is a `bad-value` dead letter',
  hex: '`length` bytes as lower-case hex digits, in frame order (`0xAB 0x01` is "ab01")',
};

const BINARY_NOTES = [
  '- **Byte order.** Multi-byte integers and floats are big-endian (most significant byte first)',
  '  unless the field says `endian: little`. Fields follow one another with no padding; a field that',
  '  does not fit in the frame is a `truncated` dead letter.',
  '- **Bit fields** (`bits`) split an integer field after it is read in its byte order: bit 0 is the',
  '  least significant bit of that value; `shift` is the lowest bit taken and `width` the number of',
  '  bits (`{ shift: 4, width: 4 }` of `0xA5` is 10). `shift + width` may not pass the field’s size.',
  '- **Key-value frames** (`format.type: kv`): each key is 2 bytes, big-endian, written as 4 hex',
  '  digits in the spec; with `lengthByte` a 1-byte length follows every key; an extension’s own',
  '  length is 1 byte (`byte`) or 2 bytes big-endian (`word`).',
  '- **Checksums** (`checksum`): `sum8` (the byte sum modulo 256, 1 byte), `xor` (1 byte),',
  '  `crc16-modbus` (2 bytes) and `crc32` (4 bytes, the IEEE polynomial), read at `at` in the',
  '  checksum’s own `endian` (default big).',
  '- **Values** go through `na`, then `boolean`, then `enum`, then `scale` and `offset` (see',
  '  `specs/README.md`).',
];

const SAFE = Number.MAX_SAFE_INTEGER;
/** The heading of the spec file's own keys, as validation messages name it. */
const TOP = '(top level)';

/** The key and value that tell a form of a union from the others (`type: hex`, `from: topic`). */
function tagOf(node: Node): [string, string] | undefined {
  const tag = Object.entries(node.properties ?? {}).find(([, p]) => p.const !== undefined);
  return tag ? [tag[0], String(tag[1].const)] : undefined;
}

/** A type in words: `integer 0–63`, `one of: big, little`, `list of mapping`. */
function typeOf(node: Node): string {
  const alternatives = node.anyOf ?? node.oneOf;
  if (alternatives) {
    const tags = alternatives.map(tagOf);
    if (tags.every((t) => t !== undefined))
      return `mapping, one form per \`${tags[0]![0]}\` (below): ${tags.map((t) => `\`${t![1]}\``).join(', ')}`;
    return alternatives.map(typeOf).join(', or ');
  }
  if (node.const !== undefined) return `\`${String(node.const)}\``;
  if (node.enum) return `one of: ${node.enum.map((v) => `\`${String(v)}\``).join(', ')}`;
  const type = Array.isArray(node.type) ? node.type.join(' or ') : (node.type ?? 'any');
  if (type === 'array')
    return `list of ${node.items ? typeOf(node.items) : 'any'}${node.minItems ? ` (at least ${node.minItems})` : ''}`;
  if (type === 'object') {
    if (node.properties) return 'mapping';
    const value = typeof node.additionalProperties === 'object' ? typeOf(node.additionalProperties) : 'any';
    const key = node.propertyNames?.pattern ? `key /${node.propertyNames.pattern}/` : 'key';
    return `mapping of ${key} → ${value}`;
  }
  // zod states a whole number's safe range as its bounds: no bound for an author
  const min = node.minimum !== undefined && node.minimum > -SAFE ? node.minimum : undefined;
  const max = node.maximum !== undefined && node.maximum < SAFE ? node.maximum : undefined;
  const range =
    min !== undefined && max !== undefined
      ? ` ${min}–${max}`
      : min !== undefined
        ? ` ≥ ${min}`
        : max !== undefined
          ? ` ≤ ${max}`
          : '';
  const pattern = node.pattern ? ` /${node.pattern}/` : '';
  const length =
    node.minLength !== undefined && node.minLength === node.maxLength
      ? ` of ${node.minLength} character${node.minLength === 1 ? '' : 's'}`
      : node.minLength
        ? ` (at least ${node.minLength} characters)`
        : '';
  return `${type}${range}${pattern}${length}`;
}

/** A cell of a Markdown table: one line, no stray pipes. */
const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** The mappings a node holds, with the path each is documented under. */
function mappingsOf(path: string, node: Node): [string, Node][] {
  const alternatives = node.anyOf ?? node.oneOf;
  if (alternatives) {
    return alternatives.flatMap((alt) => {
      const tag = tagOf(alt);
      return mappingsOf(tag ? `${path} (${tag[0]}: ${tag[1]})` : path, alt);
    });
  }
  if (node.type === 'array' && node.items) return mappingsOf(`${path}[]`, node.items);
  if (node.type === 'object' && node.properties) return [[path, node]];
  if (node.type === 'object' && typeof node.additionalProperties === 'object')
    return mappingsOf(`${path}.<key>`, node.additionalProperties);
  return [];
}

/** The table of one mapping, then the tables of the mappings inside it (each layout once). */
function section(path: string, node: Node, seen: Map<string, string>): string[] {
  const layout = JSON.stringify(node);
  const first = seen.get(layout);
  if (first !== undefined) return [`### \`${path}\``, '', `As \`${first}\`.`, ''];
  seen.set(layout, path);
  const required = new Set(node.required ?? []);
  const rows = Object.entries(node.properties ?? {}).map(([key, prop]) => {
    const fallback =
      prop.default !== undefined
        ? `\`${JSON.stringify(prop.default)}\``
        : required.has(key)
          ? '**required**'
          : '';
    return `| \`${key}\` | ${cell(typeOf(prop))} | ${cell(fallback)} | ${cell(prop.description ?? '')} |`;
  });
  const lines = [`### \`${path}\``, ''];
  if (node.description) lines.push(node.description, '');
  lines.push('| key | type | default | description |', '|---|---|---|---|', ...rows, '');
  for (const [key, prop] of Object.entries(node.properties ?? {}))
    for (const [inner, mapping] of mappingsOf(`${path === TOP ? '' : `${path}.`}${key}`, prop))
      lines.push(...section(inner, mapping, seen));
  return lines;
}

/** The binary types' enum, found wherever a field list holds it. */
function binaryTypes(schema: Node): string[] {
  const text = JSON.stringify(schema);
  const found = /"type":\{"type":"string","enum":(\["u8"[^\]]*\])\}/.exec(text);
  return found ? (JSON.parse(found[1]!) as string[]) : Object.keys(BINARY_TYPES);
}

/** The reference of the spec language as Markdown. */
export function specReference(): string {
  const schema = specJsonSchema() as Node;
  const types = binaryTypes(schema);
  return [
    '# The spec language: field reference',
    '',
    `Generated from \`specs/schema.ts\` by \`specs/reference.ts\`; do not edit. Write it again with`,
    `\`${REFERENCE_COMMAND}\`. What the language is for, with examples: \`specs/README.md\`.`,
    '',
    '## Binary fields',
    '',
    '| type | size and reading |',
    '|---|---|',
    ...types.map((t) => `| \`${t}\` | ${cell(BINARY_TYPES[t] ?? '(not described yet)')} |`),
    '',
    ...BINARY_NOTES,
    '',
    '## Keys',
    '',
    'Every mapping of a spec file, from the top. A key marked **required** must be given; a default is',
    'what a key left out means. Mappings accept no keys but those listed.',
    '',
    ...section(TOP, schema, new Map()),
  ].join('\n');
}
