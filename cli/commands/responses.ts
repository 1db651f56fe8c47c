/**
 * `shardflow responses`: tools for response-policy authors (the language is `specs/responses/`, the
 * stored versions and the policies in force `actions/policies/`).
 *   responses validate <paths...> [--rules DIR]
 *                     every policy set checked, against its product's ruleset with --rules; problems
 *                     with file and line; exit 2 if any
 *   responses import <paths...> [--rules DIR] --config FILE
 *                     validates, then stores each version in the Warm store; nothing is stored when
 *                     any file is refused
 *   responses export --id ID [--version N] [--out FILE] --config FILE
 *                     a stored version (the newest by default) as the YAML it was imported as
 *   responses list --config FILE
 *                     the stored versions as a table
 *   responses schema  the JSON Schema of a policy file, for editors
 */
import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import type { Command } from 'commander';
import {
  exportPolicySet,
  importPolicySet,
  listPolicySets,
  PolicySetVersionConflictError,
} from '../../actions/policies/catalog.ts';
import { loadPolicySets } from '../../specs/responses/loader.ts';
import { type ResponsePolicySet, responsePolicySetJsonSchema } from '../../specs/responses/schema.ts';
import type { FileProblem } from '../../specs/yamlSource.ts';
import { EXIT } from '../exitCodes.ts';
import { addVersionExport, exitWithError, formatTable, UsageError, withWarmStore } from './shared.ts';

/** Loads policy files; a path or ruleset directory that does not exist is a {@link UsageError}. */
function loadFiles(paths: readonly string[], rulesDir?: string) {
  for (const path of [...paths, ...(rulesDir === undefined ? [] : [rulesDir])])
    if (!existsSync(path)) throw new UsageError(`${path}: no such file or directory`);
  return loadPolicySets(paths, rulesDir);
}

function printProblems(problems: readonly FileProblem[]): void {
  for (const p of problems) console.log(`error ${p.file}:${p.line}: ${p.message}`);
}

function describeSet(set: ResponsePolicySet): string {
  return `${set.id} v${set.version} (${set.productId}, ${set.policies.length} policies)`;
}

/** Who imports: the login name, when the system knows it. */
function importer(): string | undefined {
  try {
    return userInfo().username;
  } catch {
    return undefined;
  }
}

const RULES_OPTION = "directory of ruleset files: alarms and severities must be the product's ruleset's";

/** Registers `responses` and its subcommands on the program. */
export function registerResponsesCommand(program: Command): void {
  const responses = program
    .command('responses')
    .description(
      'validate and store response policies: who is told, reminded, what is fixed remotely, who is sent',
    );

  responses
    .command('validate')
    .description('check response-policy files; problems name the file and line')
    .argument('<paths...>', 'policy files (*.yaml) or directories of them')
    .option('--rules <dir>', RULES_OPTION)
    .action((paths: string[], opts: { rules?: string }) => {
      try {
        const { sets, problems } = loadFiles(paths, opts.rules);
        for (const { file, set } of sets)
          if (!problems.some((p) => p.file === file)) console.log(`ok    ${file}  ${describeSet(set)}`);
        printProblems(problems);
        if (problems.length > 0) process.exit(EXIT.usage);
      } catch (error) {
        exitWithError(error);
      }
    });

  responses
    .command('import')
    .description(
      'validate response-policy files and store each version in the Warm store; nothing is stored if any file is refused',
    )
    .argument('<paths...>', 'policy files (*.yaml) or directories of them')
    .option('--rules <dir>', RULES_OPTION)
    .option('--by <name>', 'who imports, kept with each version (default: the login name)')
    .requiredOption('-c, --config <file>', 'worker configuration (YAML): warm')
    .action(async (paths: string[], opts: { rules?: string; by?: string; config: string }) => {
      try {
        const { sets, problems } = loadFiles(paths, opts.rules);
        printProblems(problems);
        if (problems.length > 0) throw new UsageError('nothing imported: fix the files above');
        await withWarmStore(opts.config, async (store) => {
          for (const { file, set, source } of sets) {
            const { created } = await importPolicySet(store.write, set, source, opts.by ?? importer());
            console.log(`${created ? 'stored' : 'same  '} ${file}  ${describeSet(set)}`);
          }
        });
      } catch (error) {
        if (error instanceof PolicySetVersionConflictError) {
          console.error(`shardflow: ${error.message}`);
          process.exit(EXIT.failed);
        }
        exitWithError(error);
      }
    });

  addVersionExport(responses, {
    noun: 'policy set',
    description: 'print a stored policy-set version (the newest by default) as the YAML it was imported as',
    read: exportPolicySet,
  });

  responses
    .command('list')
    .description('list the stored policy-set versions, newest first per set')
    .requiredOption('-c, --config <file>', 'worker configuration (YAML): warm')
    .action(async (opts: { config: string }) => {
      try {
        const stored = await withWarmStore(opts.config, (store) => listPolicySets(store.read));
        if (stored.length === 0) {
          console.log('no policy sets');
          return;
        }
        const rows = [['ID', 'VERSION', 'PRODUCT', 'IMPORTED AT', 'IMPORTED BY']];
        for (const s of stored)
          rows.push([
            s.id,
            String(s.version),
            s.productId,
            new Date(s.importedAt).toISOString(),
            s.importedBy ?? '-',
          ]);
        console.log(formatTable(rows));
      } catch (error) {
        exitWithError(error);
      }
    });

  responses
    .command('schema')
    .description('print the JSON Schema of a response-policy file (for editors)')
    .action(() => console.log(JSON.stringify(responsePolicySetJsonSchema(), null, 2)));
}
