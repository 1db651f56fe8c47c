/**
 * Where to draw each node of a topology: the admin page's live graph reads this (served as JSON), never
 * runtime objects. Every non-source node has exactly one input, so each sub-topology is a tree rooted
 * at its source: columns are the distance from the source; leaves take consecutive rows and a parent
 * sits on the row of its first (main-output) child, so the main line reads straight across and side
 * outputs hang below it. Sub-topologies stack vertically.
 */
import type { TopologyDescription } from './description.ts';

/** A node's box, in layout units (the page scales them). */
export interface NodeBox {
  readonly name: string;
  readonly kind: 'source' | 'operator' | 'sink';
  readonly type: string;
  readonly column: number;
  readonly row: number;
  readonly x: number;
  readonly y: number;
}

/** A drawn connection from one box's right side to another's left side. */
export interface EdgeLine {
  readonly from: string;
  readonly to: string;
  readonly port: string;
  readonly x1: number;
  readonly y1: number;
  readonly x2: number;
  readonly y2: number;
}

/** The whole drawing. */
export interface TopologyLayout {
  readonly width: number;
  readonly height: number;
  readonly boxWidth: number;
  readonly boxHeight: number;
  readonly nodes: readonly NodeBox[];
  readonly edges: readonly EdgeLine[];
}

const BOX_WIDTH = 220;
const BOX_HEIGHT = 58;
const COLUMN_GAP = 60;
const ROW_GAP = 22;
const MARGIN = 16;

/** Lays out a topology description as columns (depth) and rows (tidy tree). */
export function layoutTopology(description: TopologyDescription): TopologyLayout {
  const children = new Map<string, string[]>();
  for (const edge of description.edges) {
    const list = children.get(edge.from) ?? [];
    list.push(edge.to);
    children.set(edge.from, list);
  }
  // Main outputs first, so the main line runs straight and side outputs hang below it.
  const portOf = new Map(description.edges.map((e) => [e.to, e.port]));
  for (const list of children.values()) {
    list.sort((a, b) => Number(portOf.get(a) !== 'main') - Number(portOf.get(b) !== 'main'));
  }

  const place = new Map<string, { column: number; row: number }>();
  let nextRow = 0;
  const visit = (name: string, column: number): number => {
    const kids = children.get(name) ?? [];
    if (kids.length === 0) {
      place.set(name, { column, row: nextRow });
      return nextRow++;
    }
    const rows = kids.map((kid) => visit(kid, column + 1));
    const row = rows[0]!;
    place.set(name, { column, row });
    return row;
  };
  for (const sub of description.subTopologies) visit(sub.source, 0);

  const xOf = (column: number) => MARGIN + column * (BOX_WIDTH + COLUMN_GAP);
  const yOf = (row: number) => MARGIN + row * (BOX_HEIGHT + ROW_GAP);
  const nodes: NodeBox[] = description.nodes.map((n) => {
    const { column, row } = place.get(n.name)!;
    return { name: n.name, kind: n.kind, type: n.type, column, row, x: xOf(column), y: yOf(row) };
  });
  const boxes = new Map(nodes.map((n) => [n.name, n]));
  const edges: EdgeLine[] = description.edges.map((e) => {
    const from = boxes.get(e.from)!;
    const to = boxes.get(e.to)!;
    return {
      from: e.from,
      to: e.to,
      port: e.port,
      x1: from.x + BOX_WIDTH,
      y1: from.y + BOX_HEIGHT / 2,
      x2: to.x,
      y2: to.y + BOX_HEIGHT / 2,
    };
  });
  const columns = Math.max(0, ...nodes.map((n) => n.column)) + 1;
  const rows = Math.max(0, ...nodes.map((n) => n.row)) + 1;
  return {
    width: xOf(columns) - COLUMN_GAP + MARGIN,
    height: yOf(rows) - ROW_GAP + MARGIN,
    boxWidth: BOX_WIDTH,
    boxHeight: BOX_HEIGHT,
    nodes,
    edges,
  };
}
