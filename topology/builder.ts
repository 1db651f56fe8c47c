/**
 * The typed graph builder. A topology is declared by naming each node and attaching it to the stream
 * it reads; TypeScript refuses an operator or sink whose input type does not match that stream.
 *
 * Every side output, and the refused records of a node that isolates them, must lead somewhere:
 * `build()` refuses a topology that would drop records.
 *
 * ```ts
 * const b = new TopologyBuilder('telemetry');
 * const raw = b.source('kinesis', kinesisAllShardsSource(kinesis, { clock, log })); // Stream<RawRecord>
 * const telemetry = raw.via('decode', decodeBySpec(specs)); // Stream<Telemetry>
 * telemetry.side('dlq').to('dead-letters', deadLetterStoreSink(deadLetters));
 * const enriched = telemetry.via('enrich', enrich(enrichConfig, directory)); // Stream<Enriched>
 * enriched.side('dlq').to('enrich-dead-letters', deadLetterStoreSink(deadLetters));
 * enriched.rejected().to('enrich-rejected', deadLetterStoreSink(deadLetters));
 * const hotTelemetry = enriched.to('hot-telemetry', hotTelemetrySink(hot));
 * hotTelemetry.rejected().to('hot-telemetry-rejected', deadLetterStoreSink(deadLetters));
 * const topology = b.build();
 * ```
 *
 * The example is compiled and built by `test/unit/topology/builderExample.test.ts`.
 */
import type { NoSideOutputs, Operator, SideOutputs, Sink, Source } from './components.ts';
import { describeTopology, type TopologyDescription } from './description.ts';
import { type Input, MAIN_PORT, type OperatorNode, REJECTED_PORT, type TopologyNode } from './graph.ts';
import type { DeadLetter } from './records.ts';

export * from './graph.ts';

/** Raised for a topology that cannot be built: bad or duplicate names, unconnected side outputs. */
export class TopologyError extends Error {
  override readonly name = 'TopologyError';
}

const NAME_PATTERN = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;
const MAX_NAME_LENGTH = 64;

/** Checks a node name: lower-case words joined by single dashes, at most 64 characters. */
export function validateNodeName(name: string): void {
  if (name.length > MAX_NAME_LENGTH) {
    throw new TopologyError(`node name "${name}" is longer than ${MAX_NAME_LENGTH} characters`);
  }
  if (!NAME_PATTERN.test(name)) {
    throw new TopologyError(
      `node name "${name}" is invalid: use lower-case letters and digits in words joined by single dashes, starting with a letter (e.g. "parse-envelope")`,
    );
  }
}

/** A built, frozen topology: the nodes in declaration order, and its description. */
export interface Topology {
  readonly name: string;
  readonly nodes: readonly TopologyNode[];
  describe(): TopologyDescription;
}

/** Handle to a sink in a topology, typed by what it receives (the test driver uses it). */
export interface SinkRef<T> {
  readonly node: string;
  /** Phantom: carries the record type for the test driver; never set. */
  readonly __type?: (record: T) => void;
}

/** A typed stream of batches leaving one port of a node. */
export class Stream<T> {
  /** @internal */
  constructor(
    protected readonly builder: TopologyBuilder,
    /** The node and port this stream leaves from. */
    readonly from: Input,
  ) {}

  /** Attaches an operator that reads this stream; returns its output stream. */
  via<Out, Sides extends SideOutputs = NoSideOutputs>(
    name: string,
    operator: Operator<T, Out, Sides>,
  ): OperatorStream<Out, Sides> {
    this.builder.add({ kind: 'operator', name, component: operator as never, input: this.from });
    return new OperatorStream<Out, Sides>(this.builder, { node: name, port: MAIN_PORT });
  }

  /** Attaches a sink that writes this stream. */
  to(name: string, sink: Sink<T>): SinkHandle<T> {
    this.builder.add({ kind: 'sink', name, component: sink as Sink<unknown>, input: this.from });
    return new SinkHandle<T>(this.builder, name);
  }
}

/** The dead letters of the records a node's store refused (see `Sink.rejects`). */
function rejectedStream(builder: TopologyBuilder, node: string): Stream<DeadLetter> {
  if (builder.component(node).rejects !== 'isolate') {
    throw new TopologyError(`node "${node}" does not isolate refused records (rejects: 'isolate')`);
  }
  return new Stream<DeadLetter>(builder, { node, port: REJECTED_PORT });
}

/** The main output stream of an operator, from which its side outputs can also be taken. */
export class OperatorStream<T, Sides extends SideOutputs> extends Stream<T> {
  /** The stream of one declared side output (e.g. `'dlq'`). */
  side<K extends keyof Sides & string>(port: K): Stream<Sides[K]> {
    const node = this.builder.operator(this.from.node);
    if (!(node.component.sideOutputs ?? []).includes(port)) {
      throw new TopologyError(`node "${node.name}" has no side output "${port}"`);
    }
    return new Stream<Sides[K]>(this.builder, { node: this.from.node, port });
  }

  /** The dead letters of the records the operator's store refused (`rejects: 'isolate'`). */
  rejected(): Stream<DeadLetter> {
    return rejectedStream(this.builder, this.from.node);
  }
}

/** A sink in the topology: a {@link SinkRef}, and the stream of records its store refused. */
export class SinkHandle<T> implements SinkRef<T> {
  /** Phantom: carries the record type for the test driver; never set. */
  declare readonly __type?: (record: T) => void;

  /** @internal */
  constructor(
    private readonly builder: TopologyBuilder,
    readonly node: string,
  ) {}

  /** The dead letters of the records the sink's store refused (`rejects: 'isolate'`). */
  rejected(): Stream<DeadLetter> {
    return rejectedStream(this.builder, this.node);
  }
}

/** Collects nodes; `build()` checks the graph and freezes it. */
export class TopologyBuilder {
  private readonly nodes: TopologyNode[] = [];
  private built = false;

  constructor(readonly name: string) {
    validateNodeName(name);
  }

  /** Adds a source and returns the stream of its records. */
  source<T>(name: string, source: Source<T>): Stream<T> {
    this.add({ kind: 'source', name, component: source as Source<unknown> });
    return new Stream<T>(this, { node: name, port: MAIN_PORT });
  }

  /** @internal */
  add(node: TopologyNode): void {
    if (this.built) throw new TopologyError(`topology "${this.name}" is already built`);
    validateNodeName(node.name);
    if (this.nodes.some((n) => n.name === node.name)) {
      throw new TopologyError(`node name "${node.name}" is used twice`);
    }
    if (node.kind !== 'source') {
      const parent = this.nodes.find((n) => n.name === node.input.node);
      if (parent === undefined) throw new TopologyError(`node "${node.input.node}" does not exist`);
      if (parent.kind === 'sink' && node.input.port !== REJECTED_PORT)
        throw new TopologyError(`sink "${parent.name}" has no output`);
    }
    this.nodes.push(node);
  }

  /** @internal */
  operator(name: string): OperatorNode {
    const node = this.nodes.find((n) => n.name === name);
    if (node?.kind !== 'operator') throw new TopologyError(`"${name}" is not an operator`);
    return node;
  }

  /** @internal */
  component(name: string): Operator<unknown, unknown, SideOutputs> | Sink<unknown> {
    const node = this.nodes.find((n) => n.name === name);
    if (node === undefined || node.kind === 'source')
      throw new TopologyError(`"${name}" is not an operator or sink`);
    return node.component;
  }

  /** Checks the graph (every side output consumed, every source read) and freezes it. */
  build(): Topology {
    if (this.nodes.length === 0) throw new TopologyError(`topology "${this.name}" has no nodes`);
    for (const node of this.nodes) {
      const readers = this.nodes.filter((n) => n.kind !== 'source' && n.input.node === node.name);
      if (node.kind === 'source' && readers.length === 0) {
        throw new TopologyError(`source "${node.name}" is not read by any node`);
      }
      if (node.kind !== 'source' && node.component.rejects === 'isolate') {
        if (!readers.some((r) => r.kind !== 'source' && r.input.port === REJECTED_PORT)) {
          throw new TopologyError(
            `the rejected output of node "${node.name}" is not connected: records its store refuses would be lost`,
          );
        }
      }
      if (node.kind === 'operator') {
        for (const port of node.component.sideOutputs ?? []) {
          if (!readers.some((r) => r.kind !== 'source' && r.input.port === port)) {
            throw new TopologyError(
              `side output "${port}" of node "${node.name}" is not connected: records sent there would be lost`,
            );
          }
        }
      }
    }
    this.built = true;
    const nodes = Object.freeze(this.nodes.map((n) => Object.freeze({ ...n })));
    const name = this.name;
    let description: TopologyDescription | undefined;
    return Object.freeze({
      name,
      nodes,
      describe: () => {
        description ??= describeTopology(name, nodes);
        return description;
      },
    });
  }
}
