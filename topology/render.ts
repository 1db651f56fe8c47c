/**
 * Renderings of a topology description: text (pinned by golden tests), JSON, Mermaid and DOT.
 * Each reads only the plain description.
 */
import { type EdgeDescription, isMainEdge, type TopologyDescription } from './description.ts';

/** The formats `shardflow topology describe` can print. */
export const DESCRIPTION_FORMATS = ['text', 'json', 'mermaid', 'dot'] as const;
/** One of {@link DESCRIPTION_FORMATS}. */
export type DescriptionFormat = (typeof DESCRIPTION_FORMATS)[number];

const KIND_LABEL = { source: 'Source', operator: 'Operator', sink: 'Sink' } as const;

function arrow(edge: EdgeDescription): string {
  return isMainEdge(edge) ? '-->' : `--${edge.port}-->`;
}

/** Text form in the manner of Kafka Streams' `TopologyDescription`. */
function renderText(d: TopologyDescription): string {
  const lines = [`Topology: ${d.name}`];
  for (const sub of d.subTopologies) {
    lines.push(`  Sub-topology ${sub.id} (reads source ${sub.source})`);
    for (const name of sub.nodes) {
      const node = d.nodes.find((n) => n.name === name)!;
      lines.push(`    ${KIND_LABEL[node.kind]}: ${node.name} (type: ${node.type})`);
      for (const e of d.edges.filter((x) => x.to === name))
        lines.push(`      <${arrow(e).slice(0, -1)} ${e.from}`);
      for (const e of d.edges.filter((x) => x.from === name)) lines.push(`      ${arrow(e)} ${e.to}`);
      if (node.stores.length > 0) lines.push(`      stores: ${node.stores.join(', ')}`);
    }
  }
  if (d.stores.length > 0) {
    lines.push('  Stores');
    for (const s of d.stores) lines.push(`    ${s.name} (${s.kind}) used by ${s.nodes.join(', ')}`);
  }
  return `${lines.join('\n')}\n`;
}

/** JSON form: the description itself, pretty-printed. */
function renderJson(d: TopologyDescription): string {
  return `${JSON.stringify(d, null, 2)}\n`;
}

function mermaidId(name: string): string {
  return name.replaceAll('-', '_');
}

/** Mermaid flowchart: sources as stadiums, operators as boxes, sinks as cylinders. */
function renderMermaid(d: TopologyDescription): string {
  const shape = { source: ['([', '])'], operator: ['[', ']'], sink: ['[(', ')]'] } as const;
  const lines = ['flowchart LR'];
  for (const n of d.nodes) {
    const [open, close] = shape[n.kind];
    lines.push(`  ${mermaidId(n.name)}${open}"${n.name}<br/><small>${n.type}</small>"${close}`);
  }
  for (const e of d.edges) {
    const link = isMainEdge(e) ? '-->' : `-. ${e.port} .->`;
    lines.push(`  ${mermaidId(e.from)} ${link} ${mermaidId(e.to)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Graphviz DOT: side-output edges dashed and labelled. */
function renderDot(d: TopologyDescription): string {
  const shape = { source: 'cds', operator: 'box', sink: 'cylinder' } as const;
  const lines = [`digraph "${d.name}" {`, '  rankdir=LR;', '  node [fontname="Helvetica"];'];
  for (const n of d.nodes) {
    lines.push(`  "${n.name}" [shape=${shape[n.kind]}, label="${n.name}\\n(${n.type})"];`);
  }
  for (const e of d.edges) {
    const style = isMainEdge(e) ? '' : ` [style=dashed, label="${e.port}"]`;
    lines.push(`  "${e.from}" -> "${e.to}"${style};`);
  }
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

/** Renders a description in the given format. */
export function renderDescription(d: TopologyDescription, format: DescriptionFormat): string {
  switch (format) {
    case 'text':
      return renderText(d);
    case 'json':
      return renderJson(d);
    case 'mermaid':
      return renderMermaid(d);
    case 'dot':
      return renderDot(d);
  }
}
