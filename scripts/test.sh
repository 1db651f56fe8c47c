#!/usr/bin/env bash
# The project's one test line: system packages, npm packages, static checks, then every vitest project
# (the integration project starts its own Redis, PostgreSQL, kinesalite and dynalite).
# Ends with one plain line: `tests: N passed, N failed, N skipped`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

mkdir -p .services # git-ignored scratch: logs and the vitest report
bash scripts/install-deps.sh
# npm 11's `npm ci` wants a lock entry for every platform's optional native package (rollup, biome,
# esbuild...), but the registry reachable here serves only this platform's, so the lock cannot list them
# all. Only for that refusal, fall back to `npm install`, which installs the same locked versions.
if ! npm ci --no-audit --no-fund >.services/npm-ci.log 2>&1; then
  if grep -q 'package-lock.json or npm-shrinkwrap.json are in sync' .services/npm-ci.log; then
    echo "npm ci refused the lock (other platforms' optional packages absent); using npm install" >&2
    npm install --no-audit --no-fund
  else
    cat .services/npm-ci.log >&2
    rm -f .services/npm-ci.log
    exit 1
  fi
fi
rm -f .services/npm-ci.log
npm run check

report=.services/vitest.json
rm -f "$report"
status=0
npx vitest run --reporter=default --reporter=json --outputFile="$report" || status=$?

if [ ! -s "$report" ]; then
  echo "vitest wrote no report (exit $status)" >&2
  echo "tests: 0 passed, 0 failed, 0 skipped"
  exit $((status == 0 ? 1 : status))
fi
# The summary line is printed last so CI reads it; node's exit code says whether any test failed.
node -e '
  const r = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8"));
  const skipped = r.numPendingTests + r.numTodoTests;
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`);
  process.exitCode = r.numFailedTests > 0 ? 1 : 0;
' "$report" || status=$((status == 0 ? 1 : status))
exit "$status"
