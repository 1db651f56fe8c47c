/**
 * The admin port with a token, over real HTTP: only GET and HEAD are answered, the health checks stay
 * open, every other path (unknown ones too) needs the token as a bearer header or as the cookie the
 * sign-in URL sets, and a real browser (headless Chromium) that follows a link to the sign-in URL
 * from another site lands on the live page without the token in its address or markup.
 */
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AdminServer, startAdminServer } from '../../cli/admin.ts';
import { demoConfig } from '../../cli/demoConfig.ts';
import { describeTopologyFor } from '../../cli/worker.ts';
import { type RuntimeMetricsSnapshot, silentLogger } from '../../topology/index.ts';

const description = await describeTopologyFor(demoConfig(), { log: silentLogger });
// every character a bearer token may hold that a query string or a cookie could mangle
const TOKEN = 'k9+Zq/3xY_-~.wRt7Pd==';
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

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
      errors: 0,
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

/** The raw bytes a HEAD request gets back, read until the server closes the connection. */
function rawHead(url: string, path: string, headers: Record<string, string>): Promise<string> {
  const { hostname, port } = new URL(url);
  const lines = [`HEAD ${path} HTTP/1.1`, `Host: ${hostname}`, 'Connection: close'];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  return new Promise((resolve, reject) => {
    let got = '';
    const socket = connect(Number(port), hostname, () => socket.write(`${lines.join('\r\n')}\r\n\r\n`));
    socket.on('data', (d) => {
      got += d;
    });
    socket.on('end', () => resolve(got));
    socket.on('error', reject);
  });
}

describe('admin port with a token', () => {
  let admin: AdminServer;
  beforeAll(async () => {
    admin = await startAdminServer({ description, metrics, ready: () => true }, '127.0.0.1', 0, {
      token: TOKEN,
    });
  });
  afterAll(() => admin?.close());
  const at = (path: string) => new URL(path, admin.url);

  it('answers only GET and HEAD: 405 with Allow for any other method, token or not', async () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
      for (const path of ['/', '/healthz', '/metrics']) {
        const res = await fetch(at(path), { method, headers: bearer(TOKEN) });
        expect(res.status, `${method} ${path}`).toBe(405);
        expect(res.headers.get('allow')).toBe('GET, HEAD');
      }
    }
  });

  it('answers HEAD with the headers of GET and no body', async () => {
    const get = await fetch(at('/topology'), { headers: bearer(TOKEN) });
    const length = Buffer.byteLength(await get.text());
    const raw = await rawHead(admin.url, '/topology', bearer(TOKEN));
    const [head, body] = raw.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 200 /);
    expect(head).toContain(`content-length: ${length}`);
    expect(head).toContain('content-type: application/json');
    expect(body).toBe('');
    const refused = await rawHead(admin.url, '/metrics', {});
    expect(refused).toMatch(/^HTTP\/1\.1 401 /);
    expect(refused.split('\r\n\r\n')[1]).toBe('');
  });

  it('keeps /healthz and /readyz open', async () => {
    expect((await fetch(at('/healthz'))).status).toBe(200);
    expect(await (await fetch(at('/readyz'))).text()).toBe('ready\n');
  });

  it('refuses every other path without the token or with a wrong one, and answers with it', async () => {
    const wrong: Record<string, string>[] = [
      {},
      bearer('k9+Zq/3xY_-~.wRt7Pd='),
      bearer(`${TOKEN}x`),
      { authorization: `Basic ${TOKEN}` },
      { cookie: 'shardflow_admin=nope' },
    ];
    for (const path of ['/metrics', '/metrics.json', '/topology', '/topology/layout', '/', '/no-such-path']) {
      for (const headers of wrong) {
        const res = await fetch(at(path), { headers });
        expect(res.status, `${path} with ${JSON.stringify(headers)}`).toBe(401);
        expect(res.headers.get('www-authenticate')).toBe('Bearer');
        expect(await res.text()).not.toContain(TOKEN);
      }
      const res = await fetch(at(path), { headers: bearer(TOKEN) });
      expect(res.status, path).toBe(path === '/no-such-path' ? 404 : 200);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('cache-control')).toBe('no-store');
    }
    const metricsText = await (await fetch(at('/metrics'), { headers: bearer(TOKEN) })).text();
    expect(metricsText).toContain('shardflow_node_records_in_total{node="decode",kind="operator"}');
    const page = await fetch(at('/'), { headers: bearer(TOKEN) });
    expect(page.headers.get('content-security-policy')).toMatch(/default-src 'none'; script-src 'sha256-/);
    expect(await page.text()).not.toContain(TOKEN);
  });

  it('signs a browser in at /?token= with an HttpOnly, SameSite=Strict cookie, and not with a wrong one', async () => {
    const wrong = await fetch(at(`/?token=${encodeURIComponent('k9 Zq')}`), { redirect: 'manual' });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('set-cookie')).toBeNull();
    // a `+` sent as is stays a `+` (not a space, as form decoding would make it)
    for (const query of [encodeURIComponent(TOKEN), TOKEN]) {
      const res = await fetch(at(`/?token=${query}`), { redirect: 'manual' });
      expect(res.status).toBe(200);
      expect(res.headers.get('refresh')).toBe('0; url=./');
      expect(await res.text()).not.toContain(TOKEN);
      const cookie = res.headers.get('set-cookie')!;
      expect(cookie.split('; ').slice(1).sort()).toEqual(['HttpOnly', 'Path=/', 'SameSite=Strict']);
      const signedIn = { cookie: cookie.split(';')[0]! };
      expect((await fetch(at('/metrics.json'), { headers: signedIn })).status).toBe(200);
    }
  });
});

describe('admin page with a token, in a browser', () => {
  let admin: AdminServer;
  let elsewhere: Server;
  let browser: Browser;
  beforeAll(async () => {
    admin = await startAdminServer({ description, metrics, ready: () => true }, '127.0.0.1', 0, {
      token: TOKEN,
    });
    // Another site (localhost is not 127.0.0.1's site) linking to the sign-in URL, as a runbook would.
    elsewhere = createServer((_, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(`<a id="open" href="${admin.url}?token=${encodeURIComponent(TOKEN)}">admin</a>`);
    });
    await new Promise<void>((resolve) => elsewhere.listen(0, 'localhost', resolve));
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium' });
  });
  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => elsewhere?.close(resolve));
    await admin?.close();
  });

  it('refuses the page to a browser that did not sign in', async () => {
    const page = await browser.newPage();
    const res = await page.goto(admin.url);
    expect(res?.status()).toBe(401);
    expect(await page.locator('g[data-node]').count()).toBe(0);
    await page.close();
  });

  it('opens the live page from a link to the sign-in URL, the token left in neither the address nor the page', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const blocked: string[] = [];
    page.on('console', (m) => {
      if (/Content.Security.Policy/i.test(m.text())) blocked.push(m.text());
    });
    const { port } = elsewhere.address() as { port: number };
    await page.goto(`http://localhost:${port}/`);
    await page.click('#open');
    const decode = page.locator('g[data-node="decode"] text.live');
    await expect.poll(() => decode.textContent(), { timeout: 10_000 }).toMatch(/^500 rec\/s/);
    expect(await page.locator('g[data-node]').count()).toBe(description.nodes.length);
    expect(page.url()).toBe(admin.url);
    expect(await page.content()).not.toContain(TOKEN);
    expect(blocked).toEqual([]);
    const [cookie] = await context.cookies(admin.url);
    expect(cookie).toMatchObject({ name: 'shardflow_admin', httpOnly: true, sameSite: 'Strict', path: '/' });
    // the script cannot read it
    expect(await page.evaluate('document.cookie')).toBe('');
    await context.close();
  });
});
