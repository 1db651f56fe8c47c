import { describe, expect, it } from 'vitest';
import { MemorySource, TopologyBuilder, TopologyError, validateNodeName } from '../../../topology/index.ts';
import { arraySink, doubler } from './fixtures.ts';

describe('topology builder', () => {
  it.each(['parse', 'parse-envelope', 'count-1h', 'a1-b2'])('accepts the name %s', (name) => {
    expect(() => validateNodeName(name)).not.toThrow();
  });

  it.each(['Parse', 'parse_envelope', '-parse', 'parse-', 'parse--envelope', '1parse', '', 'a'.repeat(65)])(
    'refuses the name "%s"',
    (name) => {
      expect(() => validateNodeName(name)).toThrow(TopologyError);
    },
  );

  it('refuses a name used twice', () => {
    const b = new TopologyBuilder('t');
    const input = b.source('input', new MemorySource<number>());
    input.to('out', arraySink<number>([]));
    expect(() => input.to('out', arraySink<number>([]))).toThrow('node name "out" is used twice');
  });

  it('refuses a side output left unconnected, since its records would be lost', () => {
    const b = new TopologyBuilder('t');
    b.source('input', new MemorySource<number>()).via('double', doubler()).to('out', arraySink<number>([]));
    expect(() => b.build()).toThrow('side output "dlq" of node "double" is not connected');
  });

  it('refuses a source nobody reads and changes after build', () => {
    const b = new TopologyBuilder('t');
    b.source('input', new MemorySource<number>());
    expect(() => b.build()).toThrow('source "input" is not read by any node');
    const ok = new TopologyBuilder('t');
    const input = ok.source('input', new MemorySource<number>());
    input.to('out', arraySink<number>([]));
    ok.build();
    expect(() => input.to('late', arraySink<number>([]))).toThrow('already built');
  });

  it('describes nodes, edges, side outputs, stores and sub-topologies as frozen plain data', () => {
    const b = new TopologyBuilder('t');
    const input = b.source('input', new MemorySource<number>());
    const doubled = input.via('double', doubler());
    doubled.to('out', arraySink<number>([]));
    doubled.side('dlq').to('dead', arraySink<string>([]));
    const d = b.build().describe();
    expect(d.edges).toEqual([
      { from: 'input', to: 'double', port: 'main' },
      { from: 'double', to: 'out', port: 'main' },
      { from: 'double', to: 'dead', port: 'dlq' },
    ]);
    expect(d.nodes.find((n) => n.name === 'double')).toMatchObject({
      kind: 'operator',
      type: 'doubler',
      predecessors: ['input'],
      successors: ['out', 'dead'],
      sideOutputs: ['dlq'],
    });
    expect(d.stores).toEqual([{ name: 'memory.array', kind: 'memory', nodes: ['out', 'dead'] }]);
    expect(d.subTopologies).toEqual([{ id: 0, source: 'input', nodes: ['input', 'double', 'out', 'dead'] }]);
    expect(Object.isFrozen(d.nodes[0])).toBe(true);
    expect(JSON.parse(JSON.stringify(d))).toEqual(d);
  });
});
