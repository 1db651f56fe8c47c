/**
 * `shardflow rules`: tools for ruleset authors.
 *   rules validate <files|dirs...> --specs DIR
 *                     every ruleset checked, against its product's specs; problems with file and
 *                     line; exit 1 if any
 *   rules test <file> [--specs DIR]
 *                     runs the examples beside the file's threshold rules on the compiled rules;
 *                     pass or fail per example; exit 1 if any fails
 *   rules import <files|dirs...> --specs DIR --config FILE
 *                     validates, then stores each ruleset version in the Warm store and replaces
 *                     its overrides; nothing is stored when any file is refused
 *   rules export --id ID [--version N] [--out FILE] --config FILE
 *                     a stored version (the newest by default) as YAML, with the current overrides
 *   rules schema      the JSON Schema of a ruleset file, for editors
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { compileRuleset } from '../../operators/rules/compile/compileRuleset.ts';
import { runExamples } from '../../operators/rules/compile/examples.ts';
import { detectorIssues } from '../../operators/rules/detectorParams.ts';
import { exportRuleset, importRuleset, RulesetVersionConflictError } from '../../sinks/warm/rulesets.ts';
import { loadRulesets } from '../../specs/rules/loader.ts';
import { rulesetJsonSchema } from '../../specs/rules/schema.ts';
import { parseYamlSource } from '../../specs/yamlSource.ts';
import { EXIT } from '../exitCodes.ts';
import { addVersionExport, exitWithError, UsageError, withWarmStore } from './shared.ts';

/** Registers `rules` and its subcommands on the program. */
export function registerRulesCommand(program: Command): void {
  const rules = program.command('rules').description('validate and try product rulesets');

  rules
    .command('validate')
    .description("check ruleset files against their products' specs; problems name the file and line")
    .argument('<paths...>', 'ruleset files (*.yaml) or directories of them')
    .requiredOption('--specs <dir>', 'directory of the product specs')
    .action((paths: string[], opts: { specs: string }) => {
      const { rulesets, problems } = loadRulesets(paths, opts.specs, detectorIssues);
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
      const { rulesets, problems } = loadRulesets([file], opts.specs, detectorIssues);
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
    .command('import')
    .description(
      'validate rulesets and store each version in the Warm store with its overrides; nothing is stored if any file is refused',
    )
    .argument('<paths...>', 'ruleset files (*.yaml) or directories of them')
    .requiredOption('--specs <dir>', 'directory of the product specs')
    .requiredOption('-c, --config <file>', 'worker configuration (YAML): warm')
    .action(async (paths: string[], opts: { specs: string; config: string }) => {
      try {
        const { rulesets, problems } = loadRulesets(paths, opts.specs, detectorIssues);
        for (const p of problems) console.log(`error ${p.file}:${p.line}  ${p.message}`);
        if (problems.length > 0) throw new UsageError('nothing imported: fix the files above');
        await withWarmStore(opts.config, async (store) => {
          for (const { file, ruleset } of rulesets) {
            const result = await importRuleset(store.write, ruleset, readFileSync(file, 'utf8'));
            console.log(
              `${result.created ? 'stored' : 'same  '} ${file}  ${ruleset.id} v${ruleset.version}, ${result.overrides} overrides`,
            );
          }
        });
      } catch (error) {
        if (error instanceof RulesetVersionConflictError) {
          console.error(`shardflow: ${error.message}`);
          process.exit(EXIT.failed);
        }
        exitWithError(error);
      }
    });

  addVersionExport(rules, {
    noun: 'ruleset',
    description: 'print a stored ruleset version (the newest by default) as YAML, with its current overrides',
    read: exportRuleset,
  });

  rules
    .command('schema')
    .description('print the JSON Schema of a ruleset file (for editors)')
    .action(() => console.log(JSON.stringify(rulesetJsonSchema(), null, 2)));
}
