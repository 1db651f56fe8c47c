/**
 * Import direction, enforced (`npm run deps`, part of the test line):
 *   topology        ← the engine; imports nothing else of the project
 *   sources, operators, state, sinks, specs, gateways, actions
 *                   ← components; import topology (and operators may read specs), never each other
 *   cli             ← wires everything; may import any component
 *   infra           ← local service scripts; imports no project code
 *   test/, bench/   ← nothing outside them imports them
 */
const COMPONENTS = '^(sources|operators|state|sinks|specs|gateways|actions)/';

module.exports = {
  forbidden: [
    {
      name: 'topology-is-the-bottom',
      comment: 'topology/ is the engine every component builds on; it must not depend on any of them.',
      severity: 'error',
      from: { path: '^topology/' },
      to: { path: '^(sources|operators|state|sinks|specs|gateways|actions|cli|infra|bench|test)/' },
    },
    {
      name: 'components-do-not-import-each-other',
      comment: 'Components depend on topology types only; the CLI wires them together.',
      severity: 'error',
      from: { path: '^(sources|operators|state|sinks|specs|gateways)/([^/]+)' },
      to: {
        path: COMPONENTS,
        pathNot: ['^$1/', '^specs/'],
      },
    },
    {
      name: 'actions-share-only-the-postgres-plumbing',
      comment:
        'The outbox lives in the Warm store: actions/ may use sinks/postgres/ (and specs/), no other component.',
      severity: 'error',
      from: { path: '^actions/' },
      to: { path: COMPONENTS, pathNot: ['^actions/', '^specs/', '^sinks/postgres/'] },
    },
    {
      name: 'warm-is-not-a-library',
      comment:
        'The PostgreSQL plumbing every store shares lives in sinks/postgres/; the Hot, Cold and dead-letter sinks never reach into the Warm store.',
      severity: 'error',
      from: { path: '^sinks/(hot|cold|deadletter)/' },
      to: { path: '^sinks/warm/' },
    },
    {
      name: 'specs-are-data',
      comment: 'specs/ holds schemas and example specs; it depends on topology types at most.',
      severity: 'error',
      from: { path: '^specs/' },
      to: { path: '^(sources|operators|state|sinks|gateways|actions)/' },
    },
    {
      name: 'nothing-imports-cli',
      severity: 'error',
      from: { pathNot: '^(cli|test|bench)/' },
      to: { path: '^cli/' },
    },
    {
      name: 'nothing-imports-tests-or-bench',
      comment: 'test/ and bench/ sit on top; production code never reaches into them.',
      severity: 'error',
      // `shardflow bench` is the one door from the command into the harness.
      from: { pathNot: '^(test|bench)/|^cli/commands/bench\\.ts$' },
      to: { path: '^(test|bench)/' },
    },
    {
      name: 'bench-does-not-import-tests',
      severity: 'error',
      from: { path: '^bench/' },
      to: { path: '^test/' },
    },
    {
      name: 'infra-is-standalone',
      comment: 'infra/ scripts start servers; they import only npm packages and node built-ins.',
      severity: 'error',
      from: { path: '^infra/' },
      to: { path: '^(topology|sources|operators|state|sinks|specs|gateways|actions|cli|bench|test)/' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    // packages such as csv-parse publish subpaths (csv-parse/sync) only through `exports`
    enhancedResolveOptions: {
      extensions: ['.ts', '.js', '.json'],
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
    },
  },
};
