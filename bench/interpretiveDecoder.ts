/**
 * The baseline for `decodeThroughput.ts`: the decoder one would write first, which takes the parsed
 * spec tree and walks it on every call — loops over `format.fields`, switches on each field's type
 * string, looks scale, offset, enum and bits up on the field object, splits JSON paths and CSV lines
 * per record, and checks the contract by walking `contract.metrics`. It is plain, not deliberately
 * slow: it shares the library primitives (CRC tables, `zonedTime`, `JSON.parse`, `TextDecoder`) with
 * the compiled decoder, so the ratio measures compiling the spec, not those. It covers what the
 * benchmark frames use (no CSV quoting, enum keys matched as written).
 */
import { rawRefOf } from '../operators/decode/compileSpec.ts';
import type { Incoming } from '../operators/decode/envelope.ts';
import { DecodeError } from '../operators/decode/errors.ts';
import { CHECKSUM_BYTES, crc16Modbus, crc32 } from '../operators/decode/formats/checksum.ts';
import { roundingOf } from '../operators/decode/formats/fieldValues.ts';
import type { DecodedFields, FieldValue } from '../operators/decode/frame.ts';
import { zonedTime } from '../operators/decode/timestamps.ts';
import { type BinaryField, type Checksum, type Spec, TYPE_BYTES } from '../specs/schema.ts';
import type { RawRecord, Telemetry } from '../topology/index.ts';

const utf8 = new TextDecoder('utf-8', { fatal: true });
const STANDARD_TOPICS = ['devices/{hub}/child/{device}/telemetry', 'devices/{device}/telemetry'];

/** Decodes one record by walking `spec` (a plain `specSchema.parse` result); throws `DecodeError`. */
export function interpretiveDecode(
  spec: Spec,
  record: RawRecord,
  incoming: Incoming,
  now: number,
): Telemetry[] {
  let payload = incoming.payload;
  if (payload.length > spec.payload.maxBytes) throw new DecodeError('payload-too-large', 'payload too large');
  if (spec.payload.encoding === 'hex-text')
    payload = Buffer.from(Buffer.from(payload).toString('latin1').trim(), 'hex');
  const envelope = incoming.envelope;
  const ingest = envelope?.receivedAt ?? record.arrivedAt;
  const topic = topicIds(envelope?.topic, spec.match.topic);
  const out: Telemetry[] = [];
  for (const fields of decodeFrame(spec, payload)) {
    const device = readId(spec.telemetry.deviceId, fields, topic, incoming);
    if (device === undefined) throw new DecodeError('no-device-id', 'no device id');
    const hub = spec.telemetry.hubId ? readId(spec.telemetry.hubId, fields, topic, incoming) : undefined;
    const deviceTimestamp = readTimestamp(spec.telemetry.timestamp, fields, ingest);
    const metrics = checkContract(spec, metricsOf(spec, fields), deviceTimestamp, now);
    const telemetry: Telemetry = {
      device_id: device,
      device_timestamp: deviceTimestamp,
      productId: spec.productId,
      metrics,
      ...(hub !== undefined && hub !== device ? { hub_id: hub, childDeviceId: device } : {}),
      ...(spec.telemetry.hubTimestamp
        ? { hub_timestamp: readTimestamp(spec.telemetry.hubTimestamp, fields, ingest) }
        : {}),
      ingest_timestamp: ingest,
      rawRef: rawRefOf(record, envelope, spec),
    };
    out.push(telemetry);
  }
  return out;
}

function decodeFrame(spec: Spec, bytes: Uint8Array): DecodedFields[] {
  const format = spec.format;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (format.type) {
    case 'hex': {
      if (format.checksum) verifyChecksum(format.checksum, bytes);
      const head: DecodedFields = {};
      let offset = 0;
      for (const field of format.fields) offset = readField(view, bytes, offset, field, head);
      if (!format.repeat) {
        checkConsumed(bytes, offset, format.checksum);
        return [head];
      }
      const count = head[format.repeat.count] as number;
      const records: DecodedFields[] = [];
      for (let i = 0; i < count; i++) {
        const entry: DecodedFields = { ...head };
        for (const field of format.repeat.fields) offset = readField(view, bytes, offset, field, entry);
        records.push(entry);
      }
      checkConsumed(bytes, offset, format.checksum);
      return records;
    }
    case 'kv': {
      if (format.checksum) verifyChecksum(format.checksum, bytes);
      const out: DecodedFields = {};
      let p = 0;
      for (const field of format.header) p = readField(view, bytes, p, field, out);
      const end = bytes.length - trailing(format.checksum, bytes.length);
      while (p < end) {
        const key = ((bytes[p]! << 8) | bytes[p + 1]!).toString(16).padStart(4, '0');
        p += 2;
        const length = format.lengthByte ? bytes[p++]! : undefined;
        const field = format.keys[key.toUpperCase()] ?? format.keys[key];
        if (field === undefined) {
          if (format.unknownKeys === 'reject' || length === undefined)
            throw new DecodeError('unknown-key', `key ${key}`);
          p += length;
          continue;
        }
        p = readField(view, bytes, p, field, out, length);
      }
      return [out];
    }
    case 'hybrid': {
      if (format.checksum) verifyChecksum(format.checksum, bytes);
      const separator = format.separatorIsHex
        ? Buffer.from(format.separator, 'hex')
        : Buffer.from(format.separator, 'utf8');
      const out: DecodedFields = {};
      let p = 0;
      format.segments.forEach((segment, i) => {
        if (i > 0) {
          for (let j = 0; j < separator.length; j++) {
            if (bytes[p + j] !== separator[j]) throw new DecodeError('truncated', `no separator at ${p}`);
          }
          p += separator.length;
        }
        for (const field of segment.fields) p = readField(view, bytes, p, field, out);
      });
      checkConsumed(bytes, p, format.checksum);
      return [out];
    }
    case 'json': {
      const root: unknown = JSON.parse(utf8.decode(bytes));
      if (format.records === undefined) return [pick(root, format.fields, {})];
      const readings = valueAt(root, format.records);
      if (!Array.isArray(readings)) throw new DecodeError('missing-field', 'records is not an array');
      const shared = pick(root, format.shared, {});
      return readings.map((reading) => pick(reading, format.fields, { ...shared }));
    }
    case 'csv': {
      const lines = utf8
        .decode(bytes)
        .split('\n')
        .filter((line) => line !== '');
      const rows = lines.map((line) => line.split(format.delimiter));
      const names = format.header ? rows.shift()! : [];
      return rows.map((cells, r) => {
        const out: DecodedFields = {};
        for (const [field, column] of Object.entries(format.columns)) {
          const cell = cells[typeof column === 'number' ? column : names.indexOf(column)];
          if (cell === undefined) throw new DecodeError('missing-field', `row ${r + 2}: no ${column}`);
          if (!format.numeric.includes(field)) out[field] = cell;
          else if (cell.trim() === '') out[field] = null;
          else {
            const n = Number(cell);
            if (!Number.isFinite(n)) throw new DecodeError('bad-value', `row ${r + 2}: ${cell}`);
            out[field] = n;
          }
        }
        return out;
      });
    }
  }
}

/** Reads one binary field at `offset` into `out`; returns the offset after it. */
function readField(
  view: DataView,
  bytes: Uint8Array,
  offset: number,
  field: BinaryField,
  out: DecodedFields,
  declaredLength?: number,
): number {
  const size = field.length ?? TYPE_BYTES[field.type] ?? declaredLength!;
  if (offset + size > bytes.length) throw new DecodeError('truncated', `field ${field.name}`);
  if (field.skip) return offset + size;
  const le = field.endian === 'little';
  let raw: number | string;
  switch (field.type) {
    case 'u8':
      raw = view.getUint8(offset);
      break;
    case 'i8':
      raw = view.getInt8(offset);
      break;
    case 'u16':
      raw = view.getUint16(offset, le);
      break;
    case 'i16':
      raw = view.getInt16(offset, le);
      break;
    case 'u32':
      raw = view.getUint32(offset, le);
      break;
    case 'i32':
      raw = view.getInt32(offset, le);
      break;
    case 'u64':
    case 'i64': {
      const big = field.type === 'u64' ? view.getBigUint64(offset, le) : view.getBigInt64(offset, le);
      raw = Number.isSafeInteger(Number(big)) ? Number(big) : big.toString();
      break;
    }
    case 'f32':
    case 'f64':
      raw = field.type === 'f32' ? view.getFloat32(offset, le) : view.getFloat64(offset, le);
      if (!Number.isFinite(raw)) throw new DecodeError('bad-value', `field ${field.name} is ${raw}`);
      break;
    case 'bcd': {
      let digits = '';
      for (let i = offset; i < offset + size; i++) {
        if (bytes[i]! > 0x99 || (bytes[i]! & 0x0f) > 9) throw new DecodeError('bad-value', 'not BCD');
        digits += bytes[i]!.toString(16).padStart(2, '0');
      }
      raw = size > 7 ? digits : Number(digits);
      break;
    }
    case 'ascii':
      raw = Buffer.from(bytes.subarray(offset, offset + size))
        .toString('latin1')
        .replace(/[\0 ]+$/, '');
      break;
    case 'hex':
      raw = Buffer.from(bytes.subarray(offset, offset + size)).toString('hex');
      break;
  }
  if (field.bits && field.bits.length > 0) {
    for (const bit of field.bits) {
      const value = Math.floor(Number(raw) / 2 ** bit.shift) % 2 ** bit.width;
      out[bit.name] = transform(bit, value);
    }
  } else {
    out[field.name] = field.type === 'ascii' || field.type === 'hex' ? raw : transform(field, raw);
  }
  return offset + size;
}

type BitField = NonNullable<BinaryField['bits']>[number];

/** Each field's rounding, worked out once per field of the spec (as it reads `scale` once per record). */
const rounding = new WeakMap<object, number | undefined>();

function transform(field: BinaryField | BitField, raw: number | string): FieldValue | undefined {
  if (field.na?.includes(raw)) return undefined;
  if (field.boolean) return typeof raw === 'number' ? raw !== 0 : /[^0]/.test(raw);
  const label = field.enum?.[String(raw)];
  if (label !== undefined) return label;
  let decimals = rounding.get(field);
  if (!rounding.has(field)) {
    decimals = roundingOf({ ...field, type: 'type' in field ? field.type : 'u32' });
    rounding.set(field, decimals);
  }
  if (
    typeof raw !== 'number' ||
    (field.scale === undefined && field.offset === undefined && decimals === undefined)
  )
    return raw;
  const value = raw * (field.scale ?? 1) + (field.offset ?? 0);
  return decimals === undefined ? value : Math.round(value * 10 ** decimals) / 10 ** decimals;
}

function verifyChecksum(checksum: Checksum, bytes: Uint8Array): void {
  const n = bytes.length;
  const width = CHECKSUM_BYTES[checksum.algorithm];
  const at = checksum.at < 0 ? n + checksum.at : checksum.at;
  const from = checksum.from < 0 ? n + checksum.from : checksum.from;
  const to = checksum.to === undefined ? at : checksum.to < 0 ? n + checksum.to : checksum.to;
  let expected = 0;
  for (let i = 0; i < width; i++)
    expected = expected * 256 + bytes[checksum.endian === 'little' ? at + width - 1 - i : at + i]!;
  let actual = 0;
  switch (checksum.algorithm) {
    case 'sum8':
      for (let i = from; i < to; i++) actual = (actual + bytes[i]!) & 0xff;
      break;
    case 'xor':
      for (let i = from; i < to; i++) actual ^= bytes[i]!;
      break;
    case 'crc16-modbus':
      actual = crc16Modbus(bytes, from, to);
      break;
    case 'crc32':
      actual = crc32(bytes, from, to);
      break;
  }
  if (actual !== expected) throw new DecodeError('checksum-mismatch', `${checksum.algorithm} mismatch`);
}

function trailing(checksum: Checksum | undefined, length: number): number {
  if (!checksum) return 0;
  const width = CHECKSUM_BYTES[checksum.algorithm];
  return (checksum.at < 0 ? length + checksum.at : checksum.at) + width === length ? width : 0;
}

function checkConsumed(bytes: Uint8Array, end: number, checksum: Checksum | undefined): void {
  const left = bytes.length - end;
  if (left !== 0 && left !== trailing(checksum, bytes.length))
    throw new DecodeError('trailing-bytes', `${left} bytes left`);
}

/** The value at a dotted path, split here, on every call. */
function valueAt(from: unknown, path: string): unknown {
  if (path === '') return from;
  let at = from;
  for (const key of path.split('.')) {
    if (typeof at !== 'object' || at === null || !Object.hasOwn(at, key)) return undefined;
    at = (at as Record<string, unknown>)[key];
  }
  return at;
}

function pick(from: unknown, paths: Record<string, string>, into: DecodedFields): DecodedFields {
  for (const [field, path] of Object.entries(paths)) {
    const value = valueAt(from, path);
    if (value === undefined) continue;
    if (typeof value === 'object' && value !== null) throw new DecodeError('bad-value', `field ${field}`);
    into[field] = value as FieldValue;
  }
  return into;
}

/** Hub and device ids from a topic, matched segment by segment against the pattern. */
function topicIds(
  topic: string | undefined,
  pattern: string | undefined,
): { hub?: string; device?: string } | undefined {
  if (topic === undefined) return undefined;
  const parts = topic.split('/');
  for (const candidate of pattern ? [pattern] : STANDARD_TOPICS) {
    const expected = candidate.split('/');
    if (expected.length !== parts.length) continue;
    const ids: { hub?: string; device?: string } = {};
    const matched = expected.every((segment, i) => {
      if (segment === '{hub}') ids.hub = parts[i];
      else if (segment === '{device}') ids.device = parts[i];
      else return segment === parts[i];
      return parts[i] !== '';
    });
    if (matched) return { hub: ids.hub, device: ids.device ?? ids.hub };
  }
  return undefined;
}

function readId(
  source: Spec['telemetry']['deviceId'],
  fields: DecodedFields,
  topic: { hub?: string; device?: string } | undefined,
  incoming: Incoming,
): string | undefined {
  if (source.from === 'topic') return source.part === 'hub' ? topic?.hub : topic?.device;
  if (source.from === 'envelope') return incoming.envelope?.source;
  const value = fields[source.field];
  return value === undefined || value === null || value === '' ? undefined : String(value);
}

function readTimestamp(rule: Spec['telemetry']['timestamp'], fields: DecodedFields, ingest: number): number {
  if ('from' in rule) return ingest;
  const value = fields[rule.field];
  if (value === undefined || value === null) throw new DecodeError('bad-timestamp', `${rule.field} missing`);
  switch (rule.kind) {
    case 'epoch-s':
      return Number(value) * 1000;
    case 'epoch-ms':
      return Number(value);
    case 'epoch-us':
      return Math.floor(Number(value) / 1000);
    case 'iso8601':
      return Date.parse(String(value));
    case 'bcd': {
      const d = String(value).padStart(12, '0');
      const parts = [0, 2, 4, 6, 8, 10].map((i) => Number(d.slice(i, i + 2)));
      parts[0]! += 2000;
      return zonedTime(parts, rule.zone);
    }
    case 'local': {
      const parts = String(value)
        .split(/[-T :]/)
        .map(Number);
      return zonedTime(parts, rule.zone);
    }
  }
}

function metricsOf(spec: Spec, fields: DecodedFields): Record<string, FieldValue> {
  const t = spec.telemetry;
  const metrics: Record<string, FieldValue> = {};
  if (t.metrics) {
    for (const name of t.metrics) if (fields[name] !== undefined) metrics[name] = fields[name]!;
    return metrics;
  }
  const used = [t.deviceId, t.hubId, t.timestamp, t.hubTimestamp].map((s) =>
    s && 'field' in s ? s.field : undefined,
  );
  for (const [name, value] of Object.entries(fields))
    if (!used.includes(name) && value !== undefined) metrics[name] = value;
  return metrics;
}

function checkContract(
  spec: Spec,
  metrics: Record<string, FieldValue>,
  deviceTimestamp: number,
  now: number,
): Record<string, FieldValue> {
  const contract = spec.contract;
  if (deviceTimestamp > now + contract.maxFutureSkewMs || deviceTimestamp < now - contract.maxAgeMs)
    throw new DecodeError('clock-skew', 'event time out of range');
  for (const [metric, rule] of Object.entries(contract.metrics)) {
    const value = metrics[metric];
    if (value === undefined || value === null) {
      if (rule.required) throw new DecodeError('contract-missing', `${metric} missing`);
      continue;
    }
    const broken =
      typeof value !== rule.type ||
      (typeof value === 'number' &&
        ((rule.min !== undefined && value < rule.min) || (rule.max !== undefined && value > rule.max))) ||
      (rule.allowed !== undefined && !rule.allowed.includes(value));
    if (!broken) continue;
    if (rule.onViolation === 'reject') throw new DecodeError('contract-range', `${metric} = ${value}`);
    delete metrics[metric];
  }
  return metrics;
}
