/**
 * The HTML report in a real browser (headless Chromium, the system's, never a downloaded one): a
 * short real sweep's report is opened, both charts are laid out with bars of non-zero size, and the
 * screenshot of a chart holds far more than a blank area of the same size.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { benchRun } from '../../bench/harness/main.ts';

const out = mkdtempSync(path.join(tmpdir(), 'bench-report-'));
let browser: Browser;

beforeAll(async () => {
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium' });
});

afterAll(async () => {
  await browser?.close();
  rmSync(out, { recursive: true, force: true });
});

describe('benchmark report in a browser', () => {
  it('shows the throughput and latency charts with drawn bars', async () => {
    const { dir } = await benchRun({
      workload: 'smoke',
      mode: 'in-process',
      duration: 1,
      warmup: 1,
      repeat: 1,
      sweep: [{ knob: 'batch', values: [100, 400] }],
      markerMs: 100,
      out,
      progress: false,
    });
    const page = await browser.newPage({ viewport: { width: 1100, height: 1400 } });
    await page.goto(pathToFileURL(path.join(dir, 'report.html')).href);

    // throughput: records/s, telemetry/s and the in-run baseline's records/s for each of two points
    for (const [chart, bars] of [
      ['throughput', 6],
      ['latency', 8],
    ] as const) {
      const sizes = await page.$$eval(`svg#${chart} path.bar`, (paths) =>
        paths.map((p) => {
          const box = p.getBoundingClientRect();
          return { width: box.width, height: box.height, fill: p.getAttribute('fill') };
        }),
      );
      expect(sizes).toHaveLength(bars);
      for (const s of sizes) {
        expect(s.width).toBeGreaterThan(5);
        expect(s.fill).toMatch(/^#[0-9a-f]{6}$/);
      }
      // every bar is drawn; throughput bars are tall (the latency axis reaches the 1 s goal, so a few
      // milliseconds of latency make short bars)
      for (const s of sizes) expect(s.height).toBeGreaterThan(0);
      if (chart === 'throughput') expect(Math.max(...sizes.map((s) => s.height))).toBeGreaterThan(20);
    }

    // latency over the run (1 s here, so 100 ms intervals): a line per point, drawn across the plot
    const lines = await page.$$eval('svg#latency-timeline path.line', (paths) =>
      paths.map((p) => p.getBoundingClientRect().width),
    );
    expect(lines).toHaveLength(2);
    for (const width of lines) expect(width).toBeGreaterThan(100);

    const shot = await page.locator('svg#throughput').screenshot();
    await page.setContent('<div id="blank" style="width:760px;height:320px;background:#fff"></div>');
    const blank = await page.locator('#blank').screenshot();
    expect(shot.subarray(1, 4).toString()).toBe('PNG');
    expect(shot.length).toBeGreaterThan(blank.length * 3);
    await page.close();
  });
});
