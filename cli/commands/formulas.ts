/**
 * `shardflow formulas`: tools for formula authors (the language is `specs/formulas/`, the stored
 * versions and their results `sinks/formulas/`).
 *   formulas validate <paths...> [--specs DIR]
 *                     every version checked, and the files' versions as one set (references,
 *                     cycles, depth); problems with file and line; exit 1 if any
 *   formulas test <paths...>
 *                     runs each version's examples on its compiled expression; pass or fail per
 *                     example; exit 1 if any fails
 *   formulas import <paths...> [--specs DIR] --config FILE
 *                     validates, checks the set together with the stored versions, then stores every
 *                     version in one transaction; nothing is stored when anything is refused
 *   formulas export [--id ID] [--product P] [--out FILE] --config FILE
 *                     stored versions as a formula file, with their current status
 *   formulas list [--product P] [--id ID] [--status S] --config FILE
 *                     stored versions as a table
 *   formulas recompute ...      one version over past days (`formulaRecompute.ts`)
 *   formulas schema   the JSON Schema of a formula file, for editors
 */
import { existsSync, writeFileSync } from 'node:fs';
import { type Command, InvalidArgumentError } from 'commander';
import {
  type FormulaImport,
  FormulaVersionConflictError,
  importFormulas,
  readFormulas,
} from '../../sinks/formulas/index.ts';
import { checkFormulaSet, type LoadedFormula, loadFormulaFiles } from '../../specs/formulas/loader.ts';
import { type Formula, type FormulaStatus, formulaKey, STATUSES } from '../../specs/formulas/schema.ts';
import type { FileProblem } from '../../specs/yamlSource.ts';
import { EXIT } from '../exitCodes.ts';
import { EXAMPLE_TOLERANCE, runFormulaExamples } from './formulaExamples.ts';
import { formulaFileJsonSchema, formulaFileText } from './formulaFile.ts';
import { registerFormulaRecompute } from './formulaRecompute.ts';
import { exitWithError, formatTable, UsageError, withWarmStore } from './shared.ts';

/** Loads formula files; a path or spec directory that does not exist is a {@link UsageError}. */
function loadFiles(paths: readonly string[], specDir?: string) {
  for (const path of [...paths, ...(specDir === undefined ? [] : [specDir])])
    if (!existsSync(path)) throw new UsageError(`${path}: no such file or directory`);
  return loadFormulaFiles(paths, specDir);
}

function printProblems(problems: readonly FileProblem[]): void {
  for (const p of problems) console.log(`error ${p.file}:${p.line}: ${p.message}`);
}

/** A day (`YYYY-MM-DD`) when `ms` is a UTC midnight, else the ISO time. */
function dayOrTime(ms: number): string {
  const iso = new Date(ms).toISOString();
  return iso.endsWith('T00:00:00.000Z') ? iso.slice(0, 10) : iso;
}

function status(value: string): FormulaStatus {
  if (!(STATUSES as readonly string[]).includes(value))
    throw new InvalidArgumentError(`expected one of ${STATUSES.join(', ')}`);
  return value as FormulaStatus;
}

function describeVersion(f: Formula): string {
  return `${f.id} v${f.version} (${f.productId}, ${f.scope}${f.status === 'active' ? '' : `, ${f.status}`})`;
}

/** What one imported version did, as a line. */
function importLine(done: FormulaImport, loaded: LoadedFormula, before: FormulaStatus | undefined): string {
  const what = `${loaded.file}  ${done.id} v${done.version}`;
  if (done.outcome === 'created') return `created  ${what}`;
  if (done.outcome === 'unchanged') return `same     ${what}`;
  return `status   ${what}: ${before ?? '?'} → ${loaded.formula.status}`;
}

/** Registers `formulas` and its subcommands on the program. */
export function registerFormulasCommand(program: Command): void {
  const formulas = program
    .command('formulas')
    .description('validate, try, store and recompute formulas over the daily aggregates');

  formulas
    .command('validate')
    .summary('check formula files; problems name the file and line')
    .description(
      'check formula files, every version and the files together (references, cycles); problems name the file and line',
    )
    .argument('<paths...>', 'formula files (*.yaml) or directories of them')
    .option('--specs <dir>', "directory of the product specs: variables must name the product's metrics")
    .action((paths: string[], opts: { specs?: string }) => {
      try {
        const { formulas: loaded, problems } = loadFiles(paths, opts.specs);
        const all = [...problems, ...checkFormulaSet(loaded)];
        for (const { file, formula } of loaded)
          if (!all.some((p) => p.file === file)) console.log(`ok    ${file}  ${describeVersion(formula)}`);
        printProblems(all);
        if (all.length > 0) process.exit(EXIT.failed);
      } catch (error) {
        exitWithError(error);
      }
    });

  formulas
    .command('test')
    .summary('run the examples kept beside each version; pass or fail per example')
    .description(
      `run the examples kept beside each version; pass or fail per example. With decimals, the expected value rounded the same way must equal the result; without, agree within ${EXAMPLE_TOLERANCE} × max(1, |expected|). A variable reading another formula takes the example's value`,
    )
    .argument('<paths...>', 'formula files (*.yaml) or directories of them')
    .action((paths: string[]) => {
      try {
        const { formulas: loaded, problems } = loadFiles(paths);
        printProblems(problems);
        let passed = 0;
        let failed = 0;
        for (const { file, formula, lineOf } of loaded) {
          for (const r of runFormulaExamples(formula)) {
            const line = lineOf(['examples', r.exampleIndex]);
            console.log(
              `${r.passed ? 'pass' : 'FAIL'}  ${file}:${line}  ${formula.id} v${formula.version} example ${r.exampleIndex + 1}: ${r.detail}`,
            );
            if (r.passed) passed++;
            else failed++;
          }
        }
        console.log(`${passed} passed, ${failed} failed`);
        if (failed > 0 || problems.length > 0) process.exit(EXIT.failed);
      } catch (error) {
        exitWithError(error);
      }
    });

  formulas
    .command('import')
    .summary('validate formula files and store their versions in the Warm store')
    .description(
      'validate formula files, check them together with the stored versions (references, cycles), and store every version in one transaction; nothing is stored if anything is refused',
    )
    .argument('<paths...>', 'formula files (*.yaml) or directories of them')
    .option('--specs <dir>', "directory of the product specs: variables must name the product's metrics")
    .requiredOption('-c, --config <file>', 'worker configuration (YAML): warm')
    .action(async (paths: string[], opts: { specs?: string; config: string }) => {
      try {
        const { formulas: loaded, problems } = loadFiles(paths, opts.specs);
        printProblems(problems);
        if (problems.length > 0) throw new UsageError('nothing imported: fix the files above');
        await withWarmStore(opts.config, async (store) => {
          const stored = (await readFormulas(store.write)).map((s) => s.formula);
          const setProblems = checkFormulaSet(loaded, stored);
          printProblems(setProblems);
          if (setProblems.length > 0)
            throw new UsageError(
              'nothing imported: fix the files above (the set includes the stored versions)',
            );
          const done = await importFormulas(store.write, loaded);
          const statusBefore = new Map(stored.map((f) => [formulaKey(f), f.status]));
          for (const [i, d] of done.entries())
            console.log(importLine(d, loaded[i]!, statusBefore.get(formulaKey(loaded[i]!.formula))));
        });
      } catch (error) {
        if (error instanceof FormulaVersionConflictError) {
          console.error(`shardflow: ${error.message}; nothing imported`);
          process.exit(EXIT.failed);
        }
        exitWithError(error);
      }
    });

  formulas
    .command('export')
    .summary('print stored versions as a formula file')
    .description(
      'print stored versions as a formula file, each with its current status: import accepts it again, and so does validate when the file holds the formulas its versions read',
    )
    .option('--id <id>', 'only this formula')
    .option('--product <id>', "only this product's formulas")
    .option('--out <file>', 'write to this file instead of stdout')
    .requiredOption('-c, --config <file>', 'worker configuration (YAML): warm')
    .action(async (opts: { id?: string; product?: string; out?: string; config: string }) => {
      try {
        const stored = await withWarmStore(opts.config, (store) =>
          readFormulas(store.read, { formulaId: opts.id, productId: opts.product }),
        );
        if (stored.length === 0) throw new UsageError('no stored formula matches');
        const text = formulaFileText(
          stored,
          ` ${stored.length} formula versions exported from the Warm store (shardflow formulas export)`,
        );
        if (opts.out === undefined) process.stdout.write(text);
        else writeFileSync(opts.out, text);
      } catch (error) {
        exitWithError(error);
      }
    });

  formulas
    .command('list')
    .description('list the stored formula versions')
    .option('--product <id>', "only this product's formulas")
    .option('--id <id>', 'only this formula')
    .option('--status <status>', `only versions with this status (${STATUSES.join(', ')})`, status)
    .requiredOption('-c, --config <file>', 'worker configuration (YAML): warm')
    .action(async (opts: { product?: string; id?: string; status?: FormulaStatus; config: string }) => {
      try {
        const stored = await withWarmStore(opts.config, (store) =>
          readFormulas(store.read, { productId: opts.product, formulaId: opts.id, status: opts.status }),
        );
        if (stored.length === 0) {
          console.log('no formulas');
          return;
        }
        const rows = [['ID', 'VERSION', 'PRODUCT', 'SCOPE', 'TARGETS', 'STATUS', 'EFFECTIVE FROM', 'UNIT']];
        for (const { formula: f } of stored)
          rows.push([
            f.id,
            String(f.version),
            f.productId,
            f.scope,
            f.targets.length === 0 ? '-' : f.targets.join(','),
            f.status,
            dayOrTime(f.effectiveFrom),
            f.unit ?? '-',
          ]);
        console.log(formatTable(rows));
      } catch (error) {
        exitWithError(error);
      }
    });

  registerFormulaRecompute(formulas);

  formulas
    .command('schema')
    .description('print the JSON Schema of a formula file (for editors)')
    .action(() => console.log(JSON.stringify(formulaFileJsonSchema(), null, 2)));
}
