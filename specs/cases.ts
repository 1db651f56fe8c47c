/**
 * Example cases beside a spec (`env-h1.cases.yaml` next to `env-h1.yaml`), the habit of LoRaWAN
 * codec repositories: frames with what the decode stage must make of them, either the telemetry or
 * the dead letter's reason code. `shardflow specs test` runs them. The reason codes are the decode
 * stage's, so the schema is built with them (`specs/` does not import the decoders).
 */
import { z } from 'zod';
import { type FileProblem, parseWithSchema, parseYamlSource } from './yamlSource.ts';

/** Whether a file name is a case file (`*.cases.yaml` / `*.cases.yml`), not a spec. */
export function isCaseFileName(name: string): boolean {
  return /\.cases\.ya?ml$/.test(name);
}

/** An instant: ISO 8601 with a zone (`2026-11-22T09:30:00Z`) or epoch milliseconds. */
const instant = z.union([
  z.iso.datetime({ offset: true, error: 'an ISO 8601 time with a zone (Z or +01:00) or epoch ms' }),
  z.number().int().nonnegative(),
]);

const quotedText = (what: string) =>
  z.string({ error: `${what} must be a string (quote it in YAML: "0102")` });

/** One record a case expects; only the fields given are compared, `metrics` exactly when given. */
const expectedTelemetrySchema = z
  .object({
    deviceId: quotedText('deviceId').optional(),
    timestamp: instant.optional().describe('the event time (device_timestamp)'),
    productId: z.string().optional(),
    hubId: quotedText('hubId').optional(),
    hubTimestamp: instant.optional(),
    childDeviceId: quotedText('childDeviceId').optional(),
    metrics: z
      .record(z.string(), z.union([z.number(), z.string(), z.boolean(), z.null()]))
      .optional()
      .describe('every metric of the record, no more and no less'),
  })
  .strict();

const PROTOCOLS = ['mqtt', 'tcp', 'rest', 'file'] as const;

function caseSchema(reasonCodes: readonly [string, ...string[]]) {
  return z
    .object({
      name: z.string().min(1),
      hex: quotedText('hex')
        .regex(/^(\s*[0-9a-fA-F]{2})*\s*$/, 'must be hex digits, two per byte (spaces allowed)')
        .optional(),
      text: z.string().optional().describe('the frame as UTF-8 text'),
      product: z.string().min(1).optional().describe('the envelope’s productId'),
      topic: z.string().min(1).optional().describe('the envelope’s topic'),
      protocol: z.enum(PROTOCOLS).optional().describe('the envelope’s protocol (default mqtt)'),
      source: z.string().min(1).optional().describe('the envelope’s source'),
      receivedAt: instant.optional().describe('the envelope’s receive time (default: now)'),
      partitionKey: z.string().min(1).optional().describe('the stream record’s partition key'),
      now: instant.optional().describe('the decoder’s clock for this case'),
      expect: z
        .union([expectedTelemetrySchema, z.array(expectedTelemetrySchema)])
        .optional()
        .describe('the record, or the records in order ([]: none, and no dead letter)'),
      deadLetter: z
        .object({ code: z.enum(reasonCodes), message: z.string().min(1).optional() })
        .strict()
        .optional(),
    })
    .strict()
    .superRefine((c, ctx) => {
      if ((c.hex === undefined) === (c.text === undefined))
        ctx.addIssue({ code: 'custom', path: ['name'], message: 'give exactly one of hex and text' });
      if ((c.expect === undefined) === (c.deadLetter === undefined))
        ctx.addIssue({
          code: 'custom',
          path: ['name'],
          message: 'give exactly one of expect and deadLetter',
        });
    });
}

function caseFileSchema(reasonCodes: readonly [string, ...string[]]) {
  return z
    .object({
      now: instant.optional().describe('the decoder’s clock for the file’s cases'),
      cases: z.array(caseSchema(reasonCodes)).min(1),
    })
    .strict()
    .superRefine((file, ctx) => {
      const seen = new Set<string>();
      file.cases.forEach((c, i) => {
        if (seen.has(c.name))
          ctx.addIssue({
            code: 'custom',
            path: ['cases', i, 'name'],
            message: `a second case named "${c.name}"`,
          });
        seen.add(c.name);
      });
    });
}

/** The JSON Schema of a case file, for editors (`shardflow specs schema --cases`). */
export function caseFileJsonSchema(reasonCodes: readonly [string, ...string[]]): object {
  return z.toJSONSchema(caseFileSchema(reasonCodes), { io: 'input', unrepresentable: 'any' });
}

/** A case file as written. */
export type CaseFile = z.output<ReturnType<typeof caseFileSchema>>;
/** One case of a {@link CaseFile}. */
export type SpecCase = CaseFile['cases'][number];
/** One expected record of a case. */
export type ExpectedTelemetry = z.output<typeof expectedTelemetrySchema>;

/** A case file with the line of each case, for reports. */
export interface LoadedCaseFile {
  readonly file: string;
  readonly cases: CaseFile;
  /** The line of case `i`. */
  lineOf(i: number): number;
}

/** Parses and validates a case file's text; `reasonCodes` are the codes a dead letter may have. */
export function parseCaseFile(
  file: string,
  text: string,
  reasonCodes: readonly [string, ...string[]],
): { loaded: LoadedCaseFile; problems?: undefined } | { loaded?: undefined; problems: FileProblem[] } {
  const parsed = parseYamlSource(file, text);
  if (parsed.problems) return { problems: parsed.problems };
  const source = parsed.source;
  const result = parseWithSchema(source, caseFileSchema(reasonCodes));
  if (result.problems) return { problems: result.problems };
  return { loaded: { file, cases: result.value, lineOf: (i) => source.lineOf(['cases', i]) } };
}

/** An {@link instant} as epoch milliseconds. */
export function epochMsOf(value: string | number): number {
  return typeof value === 'number' ? value : Date.parse(value);
}
