/**
 * The admin page in a real browser (headless Chromium from Debian, driven by playwright-core): it
 * draws every node and edge of the worker's topology and updates each node's live rate from
 * `/metrics.json`. The metrics are a growing counter served by the real admin server.
 */
import { mkdirSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AdminServer, startAdminServer } from '../../cli/admin.ts';
import { demoConfig } from '../../cli/demoConfig.ts';
import { describeTopologyFor } from '../../cli/worker.ts';
import { type RuntimeMetricsSnapshot, silentLogger } from '../../topology/index.ts';

const description = await describeTopologyFor(demoConfig(), { log: silentLogger });

let calls = 0;
function metrics(): RuntimeMetricsSnapshot {
  calls++;
  return {
    at: calls * 1000,
    nodes: description.nodes.map((n) => ({
      node: n.name,
      kind: n.kind,
      recordsIn: calls * 500,
      recordsOut: calls * 500,
      batches: calls,
      errors: n.name === 'dead-letters' ? 1 : 0,
      queueDepth: 0,
      latencyMeanMs: 1,
      latencyMaxMs: 1,
      latencyBuckets: [],
      latencySumMs: calls,
    })),
    shards: [],
    gauges: [],
  };
}

describe('admin page', () => {
  let admin: AdminServer;
  let browser: Browser;
  beforeAll(async () => {
    admin = await startAdminServer({ description, metrics, ready: () => true }, '127.0.0.1', 0);
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium' });
  });
  afterAll(async () => {
    await browser?.close();
    await admin?.close();
  });

  it('draws the topology and shows live rates on each node', async () => {
    const page = await browser.newPage();
    await page.goto(admin.url);
    const boxes = page.locator('g[data-node]');
    await boxes.first().waitFor();
    const drawn = await Promise.all((await boxes.all()).map((g) => g.getAttribute('data-node')));
    expect(drawn.sort()).toEqual(description.nodes.map((n) => n.name).sort());
    expect(await page.locator('path[data-edge]').count()).toBe(description.edges.length);
    expect(await page.locator('path.side').count()).toBe(
      description.edges.filter((e) => e.port !== 'main').length,
    );

    // 500 records more per 1000 ms of metrics time: the second tick shows 500 rec/s.
    const decode = page.locator('g[data-node="decode"] text.live');
    await expect.poll(() => decode.textContent(), { timeout: 10_000 }).toMatch(/^500 rec\/s/);
    await expect.poll(() => page.locator('g.failing').count()).toBe(1);

    mkdirSync('.services', { recursive: true });
    const png = await page.screenshot({ path: '.services/admin-page.png', fullPage: true });
    expect(png.byteLength).toBeGreaterThan(10_000);
  });
});
