/**
 * The frozen, serialisable description of a topology: plain data that `describe`, the visualiser and
 * the admin API read. Nothing here refers to a runtime object.
 */
import { MAIN_PORT, REJECTED_PORT, type TopologyNode } from './graph.ts';

/** One node as described. */
export interface NodeDescription {
  readonly name: string;
  readonly kind: 'source' | 'operator' | 'sink';
  /** The component's type, e.g. `kinesis`, `decode-by-spec`, `postgres-daily-aggregates`. */
  readonly type: string;
  /** Index of the sub-topology (one per source) this node belongs to. */
  readonly subTopology: number;
  readonly predecessors: readonly string[];
  readonly successors: readonly string[];
  readonly sideOutputs: readonly string[];
  readonly stores: readonly string[];
}

/** A connection from one node's port to another node. */
export interface EdgeDescription {
  readonly from: string;
  readonly to: string;
  /** `main`, or the name of a side output such as `dlq`. */
  readonly port: string;
}

/** A store and the nodes that use it. */
export interface StoreDescription {
  readonly name: string;
  readonly kind: string;
  readonly nodes: readonly string[];
}

/** A source and every node downstream of it. */
export interface SubTopologyDescription {
  readonly id: number;
  readonly source: string;
  readonly nodes: readonly string[];
}

/** The whole topology as plain read-only data. */
export interface TopologyDescription {
  readonly name: string;
  readonly subTopologies: readonly SubTopologyDescription[];
  readonly nodes: readonly NodeDescription[];
  readonly edges: readonly EdgeDescription[];
  readonly stores: readonly StoreDescription[];
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/** Builds the description from the built nodes (declaration order is kept everywhere). */
export function describeTopology(name: string, nodes: readonly TopologyNode[]): TopologyDescription {
  const edges: EdgeDescription[] = [];
  for (const node of nodes) {
    if (node.kind !== 'source') edges.push({ from: node.input.node, to: node.name, port: node.input.port });
  }

  const subTopologyOf = new Map<string, number>();
  const subTopologies: SubTopologyDescription[] = [];
  for (const node of nodes) {
    if (node.kind === 'source') {
      subTopologyOf.set(node.name, subTopologies.length);
      subTopologies.push({ id: subTopologies.length, source: node.name, nodes: [] });
    } else {
      subTopologyOf.set(node.name, subTopologyOf.get(node.input.node)!);
    }
    (subTopologies[subTopologyOf.get(node.name)!]!.nodes as string[]).push(node.name);
  }

  const storeMap = new Map<string, { kind: string; nodes: string[] }>();
  const nodeDescriptions = nodes.map((node): NodeDescription => {
    const stores = node.component.stores ?? [];
    for (const store of stores) {
      const entry = storeMap.get(store.name) ?? { kind: store.kind, nodes: [] };
      entry.nodes.push(node.name);
      storeMap.set(store.name, entry);
    }
    return {
      name: node.name,
      kind: node.kind,
      type: node.component.type,
      subTopology: subTopologyOf.get(node.name)!,
      predecessors: edges.filter((e) => e.to === node.name).map((e) => e.from),
      successors: edges.filter((e) => e.from === node.name).map((e) => e.to),
      sideOutputs: [
        ...(node.kind === 'operator' ? (node.component.sideOutputs ?? []) : []),
        ...(node.kind !== 'source' && node.component.rejects === 'isolate' ? [REJECTED_PORT] : []),
      ],
      stores: stores.map((s) => s.name),
    };
  });

  return deepFreeze({
    name,
    subTopologies,
    nodes: nodeDescriptions,
    edges,
    stores: [...storeMap].map(([storeName, s]) => ({ name: storeName, kind: s.kind, nodes: s.nodes })),
  });
}

/** True when the edge carries a node's regular output rather than a side output. */
export function isMainEdge(edge: EdgeDescription): boolean {
  return edge.port === MAIN_PORT;
}
