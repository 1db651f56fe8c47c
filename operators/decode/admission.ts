/**
 * What may enter the platform: the last check of the decode stage, on every record it hands on.
 * Whatever reaches a store is checked here, where it enters, so that no store can refuse it later
 * and no shard stalls on it: ids are non-empty, printable (no NUL, no control or format characters,
 * no broken UTF-16), within a length the stores' keys and indexes hold, and match the configured
 * pattern; text metrics hold no NUL or control characters (PostgreSQL text and jsonb cannot) and are
 * bounded; numbers are finite; event and hub times are plausible epochs. The envelope's own fields, the
 * receive time among them, are checked when it is read (`envelope.ts`); without an envelope the
 * receive time is the stream's arrival time. A record that fails is a dead letter with its own reason code.
 */
import { z } from 'zod';
import type { BinaryField, Spec } from '../../specs/schema.ts';
import type { Telemetry } from '../../topology/index.ts';
import { hasUnstorableText } from '../../topology/rejection.ts';
import { DecodeError } from './errors.ts';
import { extensionFields } from './formats/kv.ts';
import { isPlausibleEpoch, isPrintable, quoted } from './storable.ts';
import { fieldNamesOf, projectionOf } from './telemetryBuilder.ts';

/** The longest id the stores' keys can take (PostgreSQL's btree rows hold about 2,700 bytes). */
const MAX_ID_LENGTH = 512;

/** Limits on what decoded records may carry (the `decode.admission` section). */
export const admissionConfigSchema = z
  .object({
    maxIdLength: z
      .number()
      .int()
      .min(1)
      .max(MAX_ID_LENGTH)
      .default(128)
      .describe('longest device or hub id accepted, in characters (the stores index ids)'),
    idPattern: z
      .string()
      .optional()
      .refine(
        (p) => {
          if (p === undefined) return true;
          try {
            new RegExp(p, 'u');
            return true;
          } catch {
            return false;
          }
        },
        { message: 'is not a valid regular expression' },
      )
      .describe('regular expression every device and hub id must match (e.g. ^[A-Za-z0-9_.:-]+$)'),
    maxTextLength: z
      .number()
      .int()
      .min(1)
      .max(1_000_000)
      .default(4096)
      .describe('longest text metric accepted, in characters'),
  })
  .strict();
/** See {@link admissionConfigSchema}. */
export type AdmissionConfig = z.output<typeof admissionConfigSchema>;

/** Checks one decoded record; throws a `DecodeError` naming the field for anything a store would refuse. */
export type AdmissionCheck = (telemetry: Telemetry) => void;

/** The admission checks of a `decode.admission` section. */
export interface Admission {
  /**
   * The check for records of `spec`, made once per spec version: it reads only the metrics whose
   * fields can hold text or a number that is not finite (a wide binary frame of integers has none).
   */
  forSpec(spec: Spec): AdmissionCheck;
}

/** Binary field types whose values are always finite numbers (without an enum: labels are text). */
const FINITE_INTEGER_TYPES: ReadonlySet<BinaryField['type']> = new Set([
  'u8',
  'u16',
  'u32',
  'i8',
  'i16',
  'i32',
  'bcd',
]);

/** The binary fields of a format by the metric names they emit; `undefined` for text formats. */
function binaryFieldsOf(format: Spec['format']): Map<string, { readonly integer: boolean }> | undefined {
  let fields: readonly BinaryField[];
  switch (format.type) {
    case 'hex':
      fields = [...format.fields, ...(format.repeat?.fields ?? [])];
      break;
    case 'hybrid':
      fields = format.segments.flatMap((segment) => segment.fields);
      break;
    case 'kv':
      fields = [
        ...format.header,
        ...Object.values(format.keys),
        ...format.extensions.flatMap(extensionFields),
      ];
      break;
    default:
      return undefined;
  }
  const byName = new Map<string, { integer: boolean }>();
  for (const field of fields) {
    if (field.bits && field.bits.length > 0) {
      for (const bit of field.bits) byName.set(bit.name, { integer: bit.enum === undefined });
    } else {
      byName.set(field.name, { integer: FINITE_INTEGER_TYPES.has(field.type) && field.enum === undefined });
    }
  }
  return byName;
}

/** The metrics of a spec's records that can hold text or a number that is not finite. */
export function metricsToCheck(spec: Spec): readonly string[] {
  const { keep } = projectionOf(spec, fieldNamesOf(spec.format));
  const binary = binaryFieldsOf(spec.format);
  if (binary === undefined) return keep;
  // a name emitted by several fields is checked unless every one of them is an integer
  const integerOnly = (name: string) => binary.get(name)?.integer === true;
  return keep.filter((name) => !integerOnly(name));
}

/**
 * One straight-line check per metric name (`new Function`, as the contract's): a property read by a
 * constant name stays monomorphic for a spec's records, where a loop over names reads by a variable
 * key and, on a wide record, costs more than the rest of the admission. The generated text holds only
 * the names (which pass the spec's name pattern), through `JSON.stringify`.
 */
function compileMetricChecks(
  names: readonly string[],
  checkMetric: (name: string, value: unknown) => void,
): (metrics: Telemetry['metrics']) => void {
  const lines = names.map((n) => `check(${JSON.stringify(n)}, m[${JSON.stringify(n)}]);`);
  return new Function('check', `return function checkMetrics(m) {\n${lines.join('\n')}\n};`)(checkMetric);
}

/** Compiles the checks of a validated `decode.admission` section. */
export function compileAdmission(config: AdmissionConfig = admissionConfigSchema.parse({})): Admission {
  const pattern = config.idPattern === undefined ? undefined : new RegExp(config.idPattern, 'u');
  const checkId = (what: string, id: unknown) => {
    if (typeof id !== 'string' || id.length === 0) throw new DecodeError('invalid-id', `${what} is empty`);
    if (id.length > config.maxIdLength)
      throw new DecodeError(
        'invalid-id',
        `${what} ${quoted(id)} is longer than ${config.maxIdLength} characters`,
      );
    if (!isPrintable(id))
      throw new DecodeError('invalid-id', `${what} ${quoted(id)} holds control or unprintable characters`);
    if (pattern !== undefined && !pattern.test(id))
      throw new DecodeError('invalid-id', `${what} ${quoted(id)} does not match ${config.idPattern}`);
  };
  const checkTime = (what: string, ms: unknown) => {
    if (!isPlausibleEpoch(ms))
      throw new DecodeError('bad-timestamp', `${what} ${String(ms)} is not an epoch between 2000 and 2100`);
  };
  const checkEnvelope = (t: Telemetry) => {
    checkId('device id', t.device_id);
    if (t.hub_id !== undefined) checkId('hub id', t.hub_id);
    checkTime('event time', t.device_timestamp);
    if (t.hub_timestamp !== undefined) checkTime('hub time', t.hub_timestamp);
  };
  const checkMetric = (name: string, value: unknown) => {
    if (typeof value === 'number') {
      // NaN and ±Infinity: JSON turns them into null, Parquet and the windows into garbage
      if (value - value !== 0)
        throw new DecodeError('bad-value', `metric "${name}" is ${value}, not a finite number`);
    } else if (typeof value === 'string') {
      if (value.length > config.maxTextLength)
        throw new DecodeError(
          'invalid-text',
          `metric "${name}" holds ${value.length} characters, over the limit of ${config.maxTextLength}`,
        );
      if (hasUnstorableText(value))
        throw new DecodeError(
          'invalid-text',
          `metric "${name}" ${quoted(value)} holds NUL, control characters or broken UTF-16`,
        );
    }
  };
  const bySpec = new WeakMap<Spec, AdmissionCheck>();
  return {
    forSpec(spec) {
      let check = bySpec.get(spec);
      if (check === undefined) {
        const checkMetrics = compileMetricChecks(metricsToCheck(spec), checkMetric);
        check = (t) => {
          checkEnvelope(t);
          checkMetrics(t.metrics);
        };
        bySpec.set(spec, check);
      }
      return check;
    },
  };
}
