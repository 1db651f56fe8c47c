/**
 * The admin HTTP port every worker serves: `/healthz`, `/readyz`, `/metrics` (Prometheus),
 * `/metrics.json`, `/topology` (the description as JSON), `/topology/layout` (where to draw each node)
 * and `/`, a page that draws the topology with live per-node figures. The page reads only these
 * endpoints, never runtime objects.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  layoutTopology,
  type RuntimeMetricsSnapshot,
  renderPrometheus,
  type TopologyDescription,
} from '../topology/index.ts';
import { adminPage } from './adminPage.ts';

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

/** Starts the admin server on `host:port` (port 0 picks a free one). */
export async function startAdminServer(
  target: AdminTarget,
  host: string,
  port: number,
): Promise<AdminServer> {
  const html = adminPage(target.description.name);
  const layout = JSON.stringify(layoutTopology(target.description));
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://admin').pathname;
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    switch (path) {
      case '/healthz':
        return send(200, 'text/plain', 'ok\n');
      case '/readyz':
        return target.ready() ? send(200, 'text/plain', 'ready\n') : send(503, 'text/plain', 'not ready\n');
      case '/metrics':
        return send(200, 'text/plain; version=0.0.4', renderPrometheus(target.metrics()));
      case '/metrics.json':
        return send(200, 'application/json', JSON.stringify(target.metrics()));
      case '/topology':
        return send(200, 'application/json', JSON.stringify(target.description));
      case '/topology/layout':
        return send(200, 'application/json', layout);
      case '/':
        return send(200, 'text/html; charset=utf-8', html);
      default:
        return send(404, 'text/plain', 'not found\n');
    }
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
