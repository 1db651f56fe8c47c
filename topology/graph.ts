/**
 * The built graph's nodes: each holds its component and, for operators and sinks, the port it reads.
 */
import type { Operator, SideOutputs, Sink, Source } from './components.ts';

/** The port every node's regular output uses; side outputs have their own names. */
export const MAIN_PORT = 'main';
/** The port on which a node that isolates refused records (`rejects: 'isolate'`) sends their dead letters. */
export const REJECTED_PORT = 'rejected';

/** Where a node reads from: a parent node and one of its ports. */
export interface Input {
  readonly node: string;
  readonly port: string;
}

interface NodeBase {
  readonly name: string;
}
/** A source node in the built graph. */
export interface SourceNode extends NodeBase {
  readonly kind: 'source';
  readonly component: Source<unknown>;
}
/** An operator node in the built graph. */
export interface OperatorNode extends NodeBase {
  readonly kind: 'operator';
  readonly component: Operator<unknown, unknown, SideOutputs>;
  readonly input: Input;
}
/** A sink node in the built graph. */
export interface SinkNode extends NodeBase {
  readonly kind: 'sink';
  readonly component: Sink<unknown>;
  readonly input: Input;
}
/** Any node of the built graph. */
export type TopologyNode = SourceNode | OperatorNode | SinkNode;
