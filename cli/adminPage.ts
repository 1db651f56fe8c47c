/**
 * The admin page: the topology drawn as a graph (from `/topology/layout`) with each node's live
 * records/s, queue depth and errors (from `/metrics.json`, once a second), and the per-node and
 * per-shard tables. Plain HTML, inline SVG and a small script: nothing is fetched from elsewhere.
 */
import { createHash } from 'node:crypto';

const STYLE = `body{font:14px system-ui,sans-serif;margin:1.5rem;color:#222}
table{border-collapse:collapse;margin-bottom:1.5rem}td,th{padding:.25rem .75rem;border-bottom:1px solid #ddd;text-align:right}
td:first-child,th:first-child{text-align:left}#graph{overflow-x:auto;margin-bottom:1rem}
svg text{font:12px system-ui,sans-serif}.name{font-weight:600}.type{fill:#555}.live{fill:#0a5}
.busy .live{fill:#c60}.failing rect{stroke:#c00;stroke-width:2}
rect{rx:6;stroke:#667;fill:#fff}.source rect{fill:#eef5ff}.sink rect{fill:#f3f0ff}
path{fill:none;stroke:#889;stroke-width:1.4}path.side{stroke-dasharray:5 4;stroke:#b77}.port{fill:#b77}`;

const SCRIPT = `
const NS = 'http://www.w3.org/2000/svg';
const el = (name, attrs, text) => {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
};
const live = new Map();
async function draw() {
  const layout = await (await fetch('topology/layout')).json();
  const svg = el('svg', { width: layout.width, height: layout.height, viewBox: '0 0 ' + layout.width + ' ' + layout.height, role: 'img' });
  svg.appendChild(el('title', {}, 'topology'));
  for (const e of layout.edges) {
    const mid = (e.x1 + e.x2) / 2;
    const d = 'M' + e.x1 + ',' + e.y1 + ' C' + mid + ',' + e.y1 + ' ' + mid + ',' + e.y2 + ' ' + e.x2 + ',' + e.y2;
    svg.appendChild(el('path', { d, class: e.port === 'main' ? 'main' : 'side', 'data-edge': e.from + '>' + e.to }));
    if (e.port !== 'main') svg.appendChild(el('text', { x: e.x1 + 6, y: e.y1 + 24, class: 'port' }, e.port));
  }
  for (const n of layout.nodes) {
    const g = el('g', { class: n.kind, 'data-node': n.name, transform: 'translate(' + n.x + ',' + n.y + ')' });
    g.appendChild(el('rect', { width: layout.boxWidth, height: layout.boxHeight }));
    g.appendChild(el('text', { x: 8, y: 17, class: 'name' }, n.name));
    g.appendChild(el('text', { x: 8, y: 33, class: 'type' }, n.kind + ' · ' + n.type));
    const t = el('text', { x: 8, y: 50, class: 'live' }, '');
    g.appendChild(t);
    live.set(n.name, { g, t });
    svg.appendChild(g);
  }
  document.querySelector('#graph').appendChild(svg);
}
let last;
async function tick() {
  const m = await (await fetch('metrics.json')).json();
  const rate = (n) => last ? Math.round(((n.recordsIn - (last.get(n.node) ?? 0)) * 1000) / (m.at - last.at)) : 0;
  for (const n of m.nodes) {
    const box = live.get(n.node);
    if (!box) continue;
    box.t.textContent = rate(n) + ' rec/s · queue ' + n.queueDepth + (n.errors ? ' · errors ' + n.errors : '');
    box.g.classList.toggle('busy', n.queueDepth > 0);
    box.g.classList.toggle('failing', n.errors > 0);
  }
  document.querySelector('#nodes tbody').innerHTML = m.nodes.map((n) => '<tr><td>' + n.node + '</td><td>' + n.kind +
    '</td><td>' + n.recordsIn + '</td><td>' + n.recordsOut + '</td><td>' + rate(n) + '</td><td>' + n.errors +
    '</td><td>' + n.queueDepth + '</td><td>' + n.latencyMeanMs.toFixed(1) + '</td></tr>').join('');
  document.querySelector('#shards tbody').innerHTML = m.shards.map((s) => '<tr><td>' + s.source + ' / ' + s.shardId +
    '</td><td>' + s.records + '</td><td>' + s.inFlightBatches + '</td><td>' + s.bufferedRecords + '</td><td>' +
    (s.millisBehindLatest ?? '') + '</td><td>' + (s.checkpoint ? s.checkpoint.sequenceNumber : '') + '</td></tr>').join('');
  last = new Map(m.nodes.map((n) => [n.node, n.recordsIn])); last.at = m.at;
}
draw().then(tick).then(() => setInterval(tick, 1000));
`;

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

/**
 * The page's Content-Security-Policy: its own inline style and script (by hash, so they need no
 * 'unsafe-inline'), fetches to its own origin, nothing else. Markup that reaches the tables through
 * `innerHTML` can therefore run no script and load nothing.
 */
export const ADMIN_PAGE_CSP = [
  "default-src 'none'",
  `script-src ${sha256(SCRIPT)}`,
  `style-src ${sha256(STYLE)}`,
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** The admin page of a topology named `name`. */
export function adminPage(name: string): string {
  const title = name.replaceAll('&', '&amp;').replaceAll('<', '&lt;');
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>shardflow · ${title}</title><style>${STYLE}</style></head>
<body><h1>shardflow · ${title}</h1>
<div id="graph"></div>
<h2>Nodes</h2><table id="nodes"><thead><tr><th>node</th><th>kind</th><th>records in</th><th>records out</th>
<th>records/s</th><th>errors</th><th>queue</th><th>mean batch ms</th></tr></thead><tbody></tbody></table>
<h2>Shards</h2><table id="shards"><thead><tr><th>source / shard</th><th>records</th><th>in flight</th>
<th>buffered</th><th>ms behind</th><th>checkpoint</th></tr></thead><tbody></tbody></table>
<script>${SCRIPT}</script></body></html>`;
}
