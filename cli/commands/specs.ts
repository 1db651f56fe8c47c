/**
 * `shardflow specs`: tools for spec authors.
 *   specs validate DIR        every file checked; problems with file and line; exit 1 if any
 *   specs test --spec-dir DIR [--product P] [--topic T] [--now ISO] (--payload HEX | --file F)
 *                             decodes one frame and prints the telemetry as JSON, or the dead letter
 *   specs test DIR | --cases FILE [--spec-dir DIR] [--now ISO]
 *                             runs the example cases (`*.cases.yaml`) and prints a pass/fail table
 *   specs schema [--cases]    the JSON Schema of a spec file (of a case file), for editors
 *   specs reference [--out F] the field reference of the language (`specs/REFERENCE.md`)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { REASON_CODES } from '../../operators/decode/errors.ts';
import { SpecRegistry } from '../../operators/decode/registry.ts';
import { caseFileJsonSchema } from '../../specs/cases.ts';
import { specReference } from '../../specs/reference.ts';
import { specJsonSchema } from '../../specs/schema.ts';
import { EXIT } from '../exitCodes.ts';
import { caseFilesOf, runCaseFiles } from './specCases.ts';
import { decodeTestFrame } from './specFrames.ts';

interface TestOptions {
  readonly specDir?: string;
  readonly cases?: string;
  readonly now?: string;
  readonly product?: string;
  readonly topic?: string;
  readonly payload?: string;
  readonly file?: string;
}

function usageError(message: string): never {
  console.error(`shardflow: ${message}`);
  process.exit(EXIT.usage);
}

/** `--now`: an ISO 8601 time with a zone, so that a frame's test does not depend on the machine's. */
function parseNow(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  if (!/(Z|[+-]\d\d:?\d\d)$/i.test(value) || Number.isNaN(ms))
    usageError(`--now ${JSON.stringify(value)} is not an ISO 8601 time with a zone (2026-11-22T09:31:00Z)`);
  return ms;
}

/** The single-frame form: prints the telemetry, or the dead letter (exit 1). */
function testOneFrame(opts: TestOptions, now: number): void {
  if (opts.specDir === undefined) usageError('--payload and --file need --spec-dir DIR');
  if (opts.payload !== undefined && opts.file !== undefined)
    usageError('give exactly one of --payload HEX and --file F');
  if (opts.payload !== undefined && !/^([0-9a-fA-F]{2})*$/.test(opts.payload.replace(/\s/g, '')))
    usageError('--payload must be hex digits (two per byte)');
  const payload =
    opts.payload !== undefined
      ? Buffer.from(opts.payload.replace(/\s/g, ''), 'hex')
      : readFileSync(opts.file!);
  const registry = new SpecRegistry(opts.specDir);
  for (const p of registry.load()) console.error(`spec refused: ${p.file}:${p.line}  ${p.message}`);
  const outcome = decodeTestFrame(registry, { payload, product: opts.product, topic: opts.topic }, now);
  if (outcome.telemetry) {
    console.log(JSON.stringify(outcome.telemetry, null, 2));
    return;
  }
  console.log(JSON.stringify({ deadLetter: outcome.deadLetter }, null, 2));
  process.exit(EXIT.failed);
}

/** Registers `specs` and its subcommands on the program. */
export function registerSpecsCommand(program: Command): void {
  const specs = program.command('specs').description('validate and try product specs');

  specs
    .command('validate')
    .description('check every spec file of a directory; problems name the file and line')
    .argument('<dir>', 'directory of *.yaml specs')
    .action((dir: string) => {
      // loaded as a worker loads them: schema problems and compile problems (an unknown time zone)
      const registry = new SpecRegistry(dir);
      const problems = registry.load();
      for (const [file, { spec }] of registry.compiledByFile)
        console.log(`ok    ${file}  ${spec.id} v${spec.version} (${spec.format.type})`);
      for (const p of problems) console.log(`error ${p.file}:${p.line}  ${p.message}`);
      if (problems.length > 0) process.exit(EXIT.failed);
    });

  specs
    .command('test')
    .description(
      'decode one frame (--payload, --file) and print the telemetry or the dead letter, or run the ' +
        'example cases of a directory (*.cases.yaml) or of one file (--cases) and print a pass/fail table',
    )
    .argument('[dir]', 'directory of specs and their *.cases.yaml files')
    .option('--spec-dir <dir>', 'directory of *.yaml specs (default: the case file’s own)')
    .option('--cases <file>', 'one case file')
    .option('--now <iso>', 'the decoder’s clock, for the contract’s time checks (default: now)')
    .option('--product <id>', 'the envelope’s productId')
    .option('--topic <topic>', 'the envelope’s topic')
    .option('--payload <hex>', 'the frame as hex digits')
    .option('--file <file>', 'the frame as a file')
    .action((dir: string | undefined, opts: TestOptions) => {
      const now = parseNow(opts.now);
      const oneFrame = opts.payload !== undefined || opts.file !== undefined;
      const forms = [oneFrame, opts.cases !== undefined, dir !== undefined].filter(Boolean).length;
      if (forms !== 1) usageError('give one of DIR, --cases FILE, and --payload HEX / --file F');
      if (oneFrame) return testOneFrame(opts, now ?? Date.now());
      const files = opts.cases !== undefined ? [opts.cases] : caseFilesOf(dir!);
      if (files.length === 0) usageError(`${dir} holds no case files (*.cases.yaml)`);
      process.exit(runCaseFiles({ files, specDir: opts.specDir, now }));
    });

  specs
    .command('schema')
    .description('print the JSON Schema of a spec file, or of a case file with --cases (for editors)')
    .option('--cases', 'the schema of a case file (*.cases.yaml)')
    .action((opts: { cases?: boolean }) => {
      const schema = opts.cases ? caseFileJsonSchema(REASON_CODES) : specJsonSchema();
      console.log(JSON.stringify(schema, null, 2));
    });

  specs
    .command('reference')
    .description('print the field reference of the spec language (Markdown), or write it to a file')
    .option('--out <file>', 'write it here (specs/REFERENCE.md is the committed one)')
    .action((opts: { out?: string }) => {
      const text = specReference();
      if (opts.out === undefined) process.stdout.write(text);
      else writeFileSync(opts.out, text);
    });
}
