/**
 * `shardflow rules`: tools for ruleset authors.
 *   rules validate <files|dirs...> --specs DIR
 *                     every ruleset checked, against its product's specs; problems with file and
 *                     line; exit 1 if any
 *   rules test <file> [--specs DIR]
 *                     runs the examples beside the file's threshold rules on the compiled rules;
 *                     pass or fail per example; exit 1 if any fails
 *   rules schema      the JSON Schema of a ruleset file, for editors
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { compileRuleset } from '../../operators/rules/compile/compileRuleset.ts';
import { runExamples } from '../../operators/rules/compile/examples.ts';
import { loadRulesets } from '../../specs/rules/loader.ts';
import { rulesetJsonSchema } from '../../specs/rules/schema.ts';
import { parseYamlSource } from '../../specs/yamlSource.ts';
import { EXIT } from '../exitCodes.ts';

/** Registers `rules` and its subcommands on the program. */
export function registerRulesCommand(program: Command): void {
  const rules = program.command('rules').description('validate and try product rulesets');

  rules
    .command('validate')
    .description("check ruleset files against their products' specs; problems name the file and line")
    .argument('<paths...>', 'ruleset files (*.yaml) or directories of them')
    .requiredOption('--specs <dir>', 'directory of the product specs')
    .action((paths: string[], opts: { specs: string }) => {
      const { rulesets, problems } = loadRulesets(paths, opts.specs);
      for (const { file, ruleset } of rulesets) {
        if (!problems.some((p) => p.file === file))
          console.log(
            `ok    ${file}  ${ruleset.id} v${ruleset.version} (${ruleset.productId}, ${ruleset.rules.length} rules)`,
          );
      }
      for (const p of problems) console.log(`error ${p.file}:${p.line}  ${p.message}`);
      if (problems.length > 0) process.exit(EXIT.failed);
    });

  rules
    .command('test')
    .description("run the examples kept beside a ruleset's threshold rules; pass or fail per example")
    .argument('<file>', 'a ruleset file')
    .option('--specs <dir>', "also check the ruleset against its product's specs")
    .action((file: string, opts: { specs?: string }) => {
      const { rulesets, problems } = loadRulesets([file], opts.specs);
      for (const p of problems) console.log(`error ${p.file}:${p.line}  ${p.message}`);
      const loaded = rulesets[0];
      if (loaded === undefined || problems.length > 0) process.exit(EXIT.failed);
      const source = parseYamlSource(file, readFileSync(file, 'utf8')).source;
      const results = runExamples(loaded.ruleset, compileRuleset(loaded.ruleset));
      for (const r of results) {
        const line = source?.lineOf(['rules', r.ruleIndex, 'examples', r.exampleIndex]) ?? 1;
        console.log(
          `${r.passed ? 'pass' : 'FAIL'}  ${file}:${line}  ${r.ruleId} example ${r.exampleIndex + 1}: ${r.detail}`,
        );
      }
      const failed = results.filter((r) => !r.passed).length;
      console.log(`${results.length - failed} passed, ${failed} failed`);
      if (failed > 0) process.exit(EXIT.failed);
    });

  rules
    .command('schema')
    .description('print the JSON Schema of a ruleset file (for editors)')
    .action(() => console.log(JSON.stringify(rulesetJsonSchema(), null, 2)));
}
