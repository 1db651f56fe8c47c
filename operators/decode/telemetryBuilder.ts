/**
 * The step from one decoded record to standard telemetry, generated once per spec version with
 * `new Function`: the device and hub ids and the timestamps are named property reads, the metrics
 * object is one object literal of the spec's metric names (a stable shape, built in one step, which
 * for wide frames is several times faster than adding keys one by one), the contract is the
 * generated check of `contract.ts`, and the telemetry is one literal of a fixed shape.
 *
 * Formats whose records always carry every field (hex, hybrid) get the literal unconditionally;
 * for the others the literal is taken when every metric is present (the usual frame) and the
 * metrics are added one by one, by name, otherwise. The generated text holds only field names that
 * pass the spec's name pattern (emitted through `JSON.stringify`) and indexes; no payload data.
 */
import type { Format, Spec } from '../../specs/schema.ts';
import type { IngestEnvelope, RawRef, Telemetry } from '../../topology/index.ts';
import { type ContractCheck, compileDeviceIdRule } from './contract.ts';
import { DecodeError } from './errors.ts';
import type { Projection } from './formats/binaryFields.ts';
import { emittedNames } from './formats/binaryFields.ts';
import { extensionFields } from './formats/kv.ts';
import type { DecodedFields, FieldValue } from './frame.ts';
import type { TopicIds } from './match.ts';
import { compileTimeValue } from './timestamps.ts';

/** Builds one record's telemetry; throws `DecodeError` for a missing id, a bad time or the contract. */
export type TelemetryBuilder = (
  fields: DecodedFields,
  topic: TopicIds | undefined,
  envelope: IngestEnvelope | undefined,
  ingest: number,
  now: number,
  rawRef: RawRef,
  aux: readonly FieldValue[] | undefined,
  auxAt: number,
) => Telemetry;

/** The fields a format's records may carry, in order, and whether every record carries them all. */
export interface FieldNames {
  readonly names: readonly string[];
  readonly always: boolean;
}

/** The field names of a format, known from the spec alone. */
export function fieldNamesOf(format: Format): FieldNames {
  switch (format.type) {
    case 'hex':
      return {
        names: unique([...emittedNames(format.fields), ...emittedNames(format.repeat?.fields ?? [])]),
        always: true,
      };
    case 'hybrid':
      return { names: unique(format.segments.flatMap((s) => emittedNames(s.fields))), always: true };
    case 'kv':
      return {
        names: unique([
          ...emittedNames(format.header),
          ...emittedNames(Object.values(format.keys)),
          ...emittedNames(format.extensions.flatMap(extensionFields)),
        ]),
        always: false,
      };
    case 'json':
      return { names: unique([...Object.keys(format.shared), ...Object.keys(format.fields)]), always: false };
    case 'csv':
      return { names: unique(Object.keys(format.columns)), always: false };
  }
}

/**
 * The spec's metrics (the listed ones, else every field that carries no id or time) and the fields
 * that carry ids or times, as a projection for formats that can build exactly the metrics object.
 */
export function projectionOf(spec: Spec, fields: FieldNames): Projection {
  const { deviceId, hubId, timestamp, hubTimestamp, metrics: listed } = spec.telemetry;
  const used = new Set<string>();
  for (const id of [deviceId, hubId]) if (id?.from === 'field') used.add(id.field);
  for (const time of [timestamp, hubTimestamp])
    if (time !== undefined && 'field' in time) used.add(time.field);
  // fields that carry ids or times are not metrics, unless the spec lists them as metrics
  const keep = (listed ?? fields.names.filter((n) => !used.has(n))).filter(
    (n) => n !== '__proto__' && fields.names.includes(n),
  );
  const ids = [deviceId, hubId].flatMap((id) => (id?.from === 'field' ? [id.field] : []));
  return { keep: unique(keep), aux: [...used].filter((n) => n !== '__proto__'), ids };
}

/**
 * Compiles the telemetry step of a spec. With `projected`, the records are already the metrics
 * objects (built by the frame decoder with `projectionOf`), and the id and time fields come from
 * the decoder's `aux` values.
 */
export function compileTelemetryBuilder(
  spec: Spec,
  fields: FieldNames,
  checkContract: ContractCheck,
  projected = false,
): TelemetryBuilder {
  const { deviceId, hubId, timestamp, hubTimestamp } = spec.telemetry;
  const { keep: metrics, aux } = projectionOf(spec, fields);

  const helpers = {
    contract: checkContract,
    time: compileTimeValue(timestamp),
    hubTime: hubTimestamp === undefined ? undefined : compileTimeValue(hubTimestamp),
    productId: spec.productId,
    deviceIdRule: compileDeviceIdRule(spec.contract.deviceId),
    noDevice(): never {
      throw new DecodeError('no-device-id', 'no device id where the spec says to find it');
    },
  };
  const get = (name: string) => (projected ? `aux[ai + ${aux.indexOf(name)}]` : `f[${JSON.stringify(name)}]`);
  const timeArg = (rule: Spec['telemetry']['timestamp']) => ('field' in rule ? get(rule.field) : 'undefined');

  const lines: string[] = [
    `const device = ${idExpr(deviceId, get)};`,
    'if (device === undefined) k.noDevice();',
  ];
  if (spec.contract.deviceId !== undefined) lines.push('k.deviceIdRule(device);');
  lines.push(`const hub = ${hubId === undefined ? 'undefined' : idExpr(hubId, get)};`);
  lines.push(`const ts = k.time(${timeArg(timestamp)}, ingest);`);
  if (!projected) lines.push(...metricsCode(metrics, fields.always));
  // a field's "not available" value leaves its key undefined in a projected record: the metric is absent
  else if (hasNotAvailable(spec.format))
    lines.push('const m = f;', 'for (const n in m) if (m[n] === undefined) delete m[n];');
  else lines.push('const m = f;');
  lines.push('k.contract(m, ts, now);');
  const hubTime =
    hubTimestamp === undefined ? '' : `const hubTs = k.hubTime(${timeArg(hubTimestamp)}, ingest);`;
  lines.push(hubTime);
  const literal = (withHub: boolean) =>
    [
      '{ device_id: device, device_timestamp: ts, productId: k.productId, metrics: m,',
      withHub ? ' hub_id: hub, childDeviceId: device,' : '',
      hubTimestamp === undefined ? '' : ' hub_timestamp: hubTs,',
      ' ingest_timestamp: ingest, rawRef }',
    ].join('');
  if (hubId === undefined) lines.push(`return ${literal(false)};`);
  else lines.push(`return hub !== undefined && hub !== device ? ${literal(true)} : ${literal(false)};`);

  const source = `return function buildTelemetry(f, topic, envelope, ingest, now, rawRef, aux, ai) {\nlet x;\n${lines.join('\n')}\n};`;
  return new Function('k', source)(helpers) as TelemetryBuilder;
}

function idExpr(source: Spec['telemetry']['deviceId'], get: (name: string) => string): string {
  switch (source.from) {
    case 'topic':
      return `(topic === undefined ? undefined : topic.${source.part === 'hub' ? 'hub' : 'device'})`;
    case 'envelope':
      return '(envelope === undefined ? undefined : envelope.source)';
    case 'field':
      return `((x = ${get(source.field)}) === undefined || x === null || x === '' ? undefined : String(x))`;
  }
}

/** Statements that leave the record's metrics in `m`. */
function metricsCode(names: readonly string[], always: boolean): string[] {
  const key = (n: string) => JSON.stringify(n);
  if (always) return [`const m = { ${names.map((n) => `${key(n)}: f[${key(n)}]`).join(', ')} };`];
  const lines = names.map((n, i) => `const m${i} = f[${key(n)}];`);
  const all = names.map((_, i) => `m${i} !== undefined`).join(' && ') || 'true';
  lines.push(`let m;\nif (${all}) m = { ${names.map((n, i) => `${key(n)}: m${i}`).join(', ')} };`);
  lines.push(
    `else { m = {}; ${names.map((n, i) => `if (m${i} !== undefined) m[${key(n)}] = m${i};`).join(' ')} }`,
  );
  return lines;
}

function unique(names: readonly string[]): string[] {
  return [...new Set(names)];
}

/** True when some field of the format lists "not available" values (`na`), at any depth. */
function hasNotAvailable(node: unknown): boolean {
  if (Array.isArray(node)) return node.some(hasNotAvailable);
  if (node === null || typeof node !== 'object') return false;
  if (Array.isArray((node as { na?: unknown }).na)) return true;
  return Object.values(node).some(hasNotAvailable);
}
