/**
 * The admin HTTP port every worker serves: `/healthz`, `/readyz`, `/metrics` (Prometheus),
 * `/metrics.json`, `/topology` (the description as JSON) and `/`, a page with the topology and live
 * per-node figures. The page reads only these endpoints, never runtime objects.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type RuntimeMetricsSnapshot,
  renderPrometheus,
  renderText,
  type TopologyDescription,
} from '../topology/index.ts';

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

function page(description: TopologyDescription): string {
  const escaped = renderText(description).replaceAll('&', '&amp;').replaceAll('<', '&lt;');
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>shardflow · ${description.name}</title>
<style>body{font:14px system-ui,sans-serif;margin:2rem;color:#222}pre{background:#f6f6f6;padding:1rem}
table{border-collapse:collapse}td,th{padding:.25rem .75rem;border-bottom:1px solid #ddd;text-align:right}
td:first-child,th:first-child{text-align:left}</style></head>
<body><h1>shardflow · ${description.name}</h1>
<pre>${escaped}</pre>
<h2>Nodes</h2><table id="nodes"><thead><tr><th>node</th><th>kind</th><th>records in</th><th>records out</th>
<th>records/s</th><th>errors</th><th>queue</th><th>mean batch ms</th></tr></thead><tbody></tbody></table>
<h2>Shards</h2><table id="shards"><thead><tr><th>source / shard</th><th>records</th><th>in flight</th>
<th>buffered</th><th>ms behind</th><th>checkpoint</th></tr></thead><tbody></tbody></table>
<script>
let last;
async function tick() {
  const m = await (await fetch('metrics.json')).json();
  const rate = (n) => last ? (((n.recordsIn - (last.get(n.node) ?? 0)) * 1000) / (m.at - last.at)).toFixed(0) : '';
  document.querySelector('#nodes tbody').innerHTML = m.nodes.map((n) => '<tr><td>' + n.node + '</td><td>' + n.kind +
    '</td><td>' + n.recordsIn + '</td><td>' + n.recordsOut + '</td><td>' + rate(n) + '</td><td>' + n.errors +
    '</td><td>' + n.queueDepth + '</td><td>' + n.latencyMeanMs.toFixed(1) + '</td></tr>').join('');
  document.querySelector('#shards tbody').innerHTML = m.shards.map((s) => '<tr><td>' + s.source + ' / ' + s.shardId +
    '</td><td>' + s.records + '</td><td>' + s.inFlightBatches + '</td><td>' + s.bufferedRecords + '</td><td>' +
    (s.millisBehindLatest ?? '') + '</td><td>' + (s.checkpoint ? s.checkpoint.sequenceNumber : '') + '</td></tr>').join('');
  last = new Map(m.nodes.map((n) => [n.node, n.recordsIn])); last.at = m.at;
}
tick(); setInterval(tick, 1000);
</script></body></html>`;
}

/** Starts the admin server on `host:port` (port 0 picks a free one). */
export async function startAdminServer(
  target: AdminTarget,
  host: string,
  port: number,
): Promise<AdminServer> {
  const html = page(target.description);
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
