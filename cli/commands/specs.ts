/**
 * `shardflow specs`: tools for spec authors.
 *   specs validate DIR        every file checked; problems with file and line; exit 1 if any
 *   specs test --spec-dir DIR [--product P] [--topic T] (--payload HEX | --file F)
 *                             decodes one frame and prints the telemetry as JSON, or the dead letter
 *   specs schema              the JSON Schema of a spec file, for editors
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { readIncoming } from '../../operators/decode/envelope.ts';
import { DecodeError } from '../../operators/decode/errors.ts';
import { SpecRegistry } from '../../operators/decode/registry.ts';
import { loadSpecDirectory } from '../../specs/loader.ts';
import { specJsonSchema } from '../../specs/schema.ts';
import type { IngestEnvelope, RawRecord } from '../../topology/index.ts';
import { EXIT } from '../exitCodes.ts';

interface TestOptions {
  readonly specDir: string;
  readonly product?: string;
  readonly topic?: string;
  readonly payload?: string;
  readonly file?: string;
}

/** The record `specs test` decodes: an envelope when a product or topic is given, else a bare payload. */
function testRecord(
  payload: Buffer,
  product: string | undefined,
  topic: string | undefined,
  now: number,
): RawRecord {
  const envelope: IngestEnvelope | undefined =
    product === undefined && topic === undefined
      ? undefined
      : {
          v: 1,
          protocol: 'mqtt',
          topic,
          productId: product,
          receivedAt: now,
          encoding: 'base64',
          payload: payload.toString('base64'),
        };
  return {
    stream: 'specs-test',
    shardId: 'shardId-000000000000',
    sequenceNumber: '1',
    partitionKey: 'specs-test',
    arrivedAt: now,
    data: envelope ? Buffer.from(JSON.stringify(envelope)) : payload,
  };
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
      const problems = new SpecRegistry(dir).load();
      for (const { file, spec } of loadSpecDirectory(dir).specs) {
        if (!problems.some((p) => p.file === file))
          console.log(`ok    ${file}  ${spec.id} v${spec.version} (${spec.format.type})`);
      }
      for (const p of problems) console.log(`error ${p.file}:${p.line}  ${p.message}`);
      if (problems.length > 0) process.exit(EXIT.failed);
    });

  specs
    .command('test')
    .description(
      'decode one frame with the specs of a directory and print the telemetry or the dead-letter reason',
    )
    .requiredOption('--spec-dir <dir>', 'directory of *.yaml specs')
    .option('--product <id>', 'the envelope’s productId')
    .option('--topic <topic>', 'the envelope’s topic')
    .option('--payload <hex>', 'the frame as hex digits')
    .option('--file <file>', 'the frame as a file')
    .action((opts: TestOptions) => {
      if ((opts.payload === undefined) === (opts.file === undefined)) {
        console.error('shardflow: give exactly one of --payload HEX and --file F');
        process.exit(EXIT.usage);
      }
      if (opts.payload !== undefined && !/^([0-9a-fA-F]{2})*$/.test(opts.payload.replace(/\s/g, ''))) {
        console.error('shardflow: --payload must be hex digits (two per byte)');
        process.exit(EXIT.usage);
      }
      const payload =
        opts.payload !== undefined
          ? Buffer.from(opts.payload.replace(/\s/g, ''), 'hex')
          : readFileSync(opts.file!);
      const registry = new SpecRegistry(opts.specDir);
      for (const p of registry.load()) console.error(`spec refused: ${p.file}:${p.line}  ${p.message}`);
      const now = Date.now();
      const record = testRecord(payload, opts.product, opts.topic, now);
      try {
        const incoming = readIncoming(record);
        const spec = registry.find(incoming);
        if (spec === undefined) throw new DecodeError('no-spec', 'no spec matches this frame');
        const telemetry = spec.decode(record, incoming, now);
        console.log(JSON.stringify(telemetry, null, 2));
      } catch (error) {
        if (!(error instanceof DecodeError)) throw error;
        console.log(JSON.stringify({ deadLetter: { code: error.code, reason: error.message } }, null, 2));
        process.exit(EXIT.failed);
      }
    });

  specs
    .command('schema')
    .description('print the JSON Schema of a spec file (for editors)')
    .action(() => console.log(JSON.stringify(specJsonSchema(), null, 2)));
}
