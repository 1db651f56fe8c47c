/**
 * The demo topology's description, pinned by golden files in every format. After an intended
 * change, regenerate with `UPDATE_GOLDEN=1 npx vitest run test/unit/cli/describe.test.ts`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { demoConfig } from '../../../cli/demoConfig.ts';
import { describeTopologyFor } from '../../../cli/worker.ts';
import { type DescriptionFormat, renderDescription, silentLogger } from '../../../topology/index.ts';
import { CLI_TEST_TIMEOUT_MS, runCli } from '../../support/cli.ts';

const EXTENSION: Record<DescriptionFormat, string> = {
  text: 'txt',
  json: 'json',
  mermaid: 'mmd',
  dot: 'dot',
};
const golden = (format: DescriptionFormat) =>
  new URL(`../../golden/telemetry-topology.${EXTENSION[format]}`, import.meta.url);

const demoDescription = () => describeTopologyFor(demoConfig(), { log: silentLogger });

describe('topology describe', { timeout: CLI_TEST_TIMEOUT_MS }, () => {
  it.each(Object.keys(EXTENSION) as DescriptionFormat[])(
    'renders the demo topology as %s, as pinned',
    async (format) => {
      const rendered = renderDescription(await demoDescription(), format);
      if (process.env.UPDATE_GOLDEN) writeFileSync(golden(format), rendered);
      expect(rendered).toBe(readFileSync(golden(format), 'utf8'));
    },
  );

  it('prints the description as JSON from the command line', async () => {
    const result = await runCli(['topology', 'describe', '--format', 'json']);
    expect(result.code).toBe(0);
    const printed = JSON.parse(result.stdout);
    expect(printed).toEqual(JSON.parse(readFileSync(golden('json'), 'utf8')));
    expect(printed.nodes.map((n: { name: string }) => n.name)).toEqual([
      'kinesis',
      'kpl-deaggregation',
      'kpl-dead-letters',
      'decode',
      'dead-letters',
      'enrich',
      'enrich-dead-letters',
      'enrich-rejected',
      'hot-telemetry',
      'hot-telemetry-rejected',
      'windows',
      'late-records',
      'late-dead-letters',
      'hot-aggregates',
      'hot-aggregates-rejected',
      'daily-aggregates',
      'daily-aggregates-rejected',
      'formula-results',
    ]);
  });

  it('refuses an unknown format and says which are allowed', async () => {
    const result = await runCli(['topology', 'describe', '--format', 'svg']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('text, json, mermaid, dot');
  });
});
