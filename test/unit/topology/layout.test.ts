import { describe, expect, it } from 'vitest';
import { layoutTopology, type TopologyDescription } from '../../../topology/index.ts';

// kinesis → kpl → decode → count → hourly, with a dlq sink off kpl and off decode, and a second
// source with one sink: the shape of the worker's topologies.
const description: TopologyDescription = {
  name: 't',
  subTopologies: [
    { id: 0, source: 'kinesis', nodes: ['kinesis', 'kpl', 'kpl-dlq', 'decode', 'dlq', 'count', 'hourly'] },
    { id: 1, source: 'cdc', nodes: ['cdc', 'apply'] },
  ],
  nodes: [
    ['kinesis', 'source'],
    ['kpl', 'operator'],
    ['kpl-dlq', 'sink'],
    ['decode', 'operator'],
    ['dlq', 'sink'],
    ['count', 'operator'],
    ['hourly', 'sink'],
    ['cdc', 'source'],
    ['apply', 'sink'],
  ].map(([name, kind]) => ({
    name: name!,
    kind: kind as 'source' | 'operator' | 'sink',
    type: name!,
    subTopology: name === 'cdc' || name === 'apply' ? 1 : 0,
    predecessors: [],
    successors: [],
    sideOutputs: [],
    stores: [],
  })),
  edges: [
    { from: 'kinesis', to: 'kpl', port: 'main' },
    { from: 'kpl', to: 'kpl-dlq', port: 'dlq' },
    { from: 'kpl', to: 'decode', port: 'main' },
    { from: 'decode', to: 'dlq', port: 'dlq' },
    { from: 'decode', to: 'count', port: 'main' },
    { from: 'count', to: 'hourly', port: 'main' },
    { from: 'cdc', to: 'apply', port: 'main' },
  ],
  stores: [],
};

describe('layoutTopology', () => {
  const layout = layoutTopology(description);
  const at = (name: string) => layout.nodes.find((n) => n.name === name)!;

  it('draws the main line straight across, one column per step from the source', () => {
    expect(['kinesis', 'kpl', 'decode', 'count', 'hourly'].map((n) => [at(n).column, at(n).row])).toEqual([
      [0, 0],
      [1, 0],
      [2, 0],
      [3, 0],
      [4, 0],
    ]);
  });

  it('hangs side outputs below the main line, each on a row of its own', () => {
    expect(at('dlq').row).toBeGreaterThan(0);
    expect(at('kpl-dlq').row).toBeGreaterThan(at('dlq').row);
    expect(at('kpl-dlq').column).toBe(2);
  });

  it('stacks a second source below the first, and no two boxes overlap', () => {
    expect(at('cdc').row).toBeGreaterThan(at('kpl-dlq').row);
    const cells = new Set(layout.nodes.map((n) => `${n.x},${n.y}`));
    expect(cells.size).toBe(layout.nodes.length);
    for (const n of layout.nodes) {
      expect(n.x + layout.boxWidth).toBeLessThanOrEqual(layout.width);
      expect(n.y + layout.boxHeight).toBeLessThanOrEqual(layout.height);
    }
  });

  it('joins each edge from the right side of its source box to the left side of its target', () => {
    const edge = layout.edges.find((e) => e.to === 'dlq')!;
    expect(edge.port).toBe('dlq');
    expect([edge.x1, edge.y1]).toEqual([
      at('decode').x + layout.boxWidth,
      at('decode').y + layout.boxHeight / 2,
    ]);
    expect([edge.x2, edge.y2]).toEqual([at('dlq').x, at('dlq').y + layout.boxHeight / 2]);
  });
});
