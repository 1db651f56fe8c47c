/**
 * The admin HTTP port every worker serves: `/healthz`, `/readyz`, `/metrics` (Prometheus),
 * `/metrics.json`, `/topology` (the description as JSON), `/topology/layout` (where to draw each node)
 * and `/`, a page that draws the topology with live per-node figures. The page reads only these
 * endpoints, never runtime objects. With a token (`adminAuth.ts`) every path but the two health
 * checks needs it.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  layoutTopology,
  type RuntimeMetricsSnapshot,
  renderPrometheus,
  type TopologyDescription,
} from '../topology/index.ts';
import { adminAuth } from './adminAuth.ts';
import { ADMIN_PAGE_CSP, adminPage } from './adminPage.ts';

/** What the admin server reads from the worker. */
export interface AdminTarget {
  readonly description: TopologyDescription;
  metrics(): RuntimeMetricsSnapshot;
  /** True while the worker is processing (false before start, after stop, after a failure). */
  ready(): boolean;
}

/** A running admin server. */
export interface AdminServer {
  readonly url: string;
  close(): Promise<void>;
}

/** How the admin server guards its port. */
export interface AdminServerOptions {
  /** The bearer token every path but `/healthz` and `/readyz` needs; none: the port is open. */
  readonly token?: string | undefined;
}

// Cheap on every answer: no caching of live figures, no content sniffing, no Referer carrying a
// sign-in URL, and nothing (a JSON answer opened in a tab) may run or be framed.
const COMMON_HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
} as const;

type Answer = readonly [status: number, type: string, body: string, headers?: Record<string, string>];

const UNAUTHORIZED: Answer = [
  401,
  'text/plain',
  'a token is required: Authorization: Bearer TOKEN (in a browser, open /?token=TOKEN once)\n',
  { 'www-authenticate': 'Bearer' },
];

/** What a process without a topology (a gateway) serves on its admin port. */
export interface PlainAdminTarget {
  /** Prometheus text for `/metrics`. */
  prometheus(): string;
  /** The same figures for `/metrics.json`. */
  json(): unknown;
  /** True while the process takes work (a load balancer's `/readyz`). */
  ready(): boolean;
}

/**
 * Starts the admin server on `host:port` (port 0 picks a free one). It answers GET and HEAD only:
 * nothing here changes the worker, so any other method is a mistake or a probe (405).
 */
export async function startAdminServer(
  target: AdminTarget,
  host: string,
  port: number,
  options: AdminServerOptions = {},
): Promise<AdminServer> {
  const html = adminPage(target.description.name);
  const layout = JSON.stringify(layoutTopology(target.description));
  const metrics = {
    prometheus: () => renderPrometheus(target.metrics()),
    json: () => target.metrics(),
    ready: () => target.ready(),
  };
  return serveAdmin(
    metrics,
    (path) => {
      switch (path) {
        case '/topology':
          return [200, 'application/json', JSON.stringify(target.description)];
        case '/topology/layout':
          return [200, 'application/json', layout];
        case '/':
          return [200, 'text/html; charset=utf-8', html, { 'content-security-policy': ADMIN_PAGE_CSP }];
        default:
          return NOT_FOUND;
      }
    },
    host,
    port,
    options,
  );
}

/** The admin port of a process that runs no topology: `/healthz`, `/readyz`, `/metrics`, `/metrics.json`. */
export function startPlainAdminServer(
  target: PlainAdminTarget,
  host: string,
  port: number,
  options: AdminServerOptions = {},
): Promise<AdminServer> {
  return serveAdmin(target, () => NOT_FOUND, host, port, options);
}

const NOT_FOUND: Answer = [404, 'text/plain', 'not found\n'];

/** Serves the metrics and `routes` behind the health checks, the token and the method check. */
async function serveAdmin(
  target: PlainAdminTarget,
  routes: (path: string) => Answer,
  host: string,
  port: number,
  options: AdminServerOptions,
): Promise<AdminServer> {
  const auth = adminAuth(options.token);
  const route = (path: string): Answer => {
    if (path === '/metrics') return [200, 'text/plain; version=0.0.4', target.prometheus()];
    if (path === '/metrics.json') return [200, 'application/json', JSON.stringify(target.json())];
    return routes(path);
  };
  const answer = (req: IncomingMessage): Answer => {
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return [405, 'text/plain', 'only GET and HEAD\n', { allow: 'GET, HEAD' }];
    const url = new URL(req.url ?? '/', 'http://admin');
    // The load balancer's health check and the orchestrator's probes carry no token.
    if (url.pathname === '/healthz') return [200, 'text/plain', 'ok\n'];
    if (url.pathname === '/readyz')
      return target.ready() ? [200, 'text/plain', 'ready\n'] : [503, 'text/plain', 'not ready\n'];
    const cookie = auth.signIn(url);
    if (cookie === null) return UNAUTHORIZED;
    // Not a 303: a redirect continues a navigation begun by a link on another site, which a
    // SameSite=Strict cookie does not follow; a refresh is a new navigation begun by this page.
    if (cookie !== undefined)
      return [200, 'text/plain', 'signed in\n', { 'set-cookie': cookie, refresh: '0; url=./' }];
    // After the check, so that a client without the token learns nothing, not even which paths exist.
    return auth.allows(req) ? route(url.pathname) : UNAUTHORIZED;
  };
  const server: Server = createServer((req, res) => {
    const [status, type, body, headers] = answer(req);
    res.writeHead(status, {
      ...COMMON_HEADERS,
      'content-type': type,
      'content-length': Buffer.byteLength(body),
      ...headers,
    });
    // HEAD: the same headers (the length included), no body.
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://${host}:${address.port}/`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
