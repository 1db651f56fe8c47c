/**
 * The example at the top of `topology/builder.ts`, line for line: the type check compiles it and
 * this test builds it, so the example cannot drift from the API. Keep the two in step.
 */
import { describe, expect, it } from 'vitest';
import { SpecRegistry } from '../../../operators/decode/registry.ts';
import { decodeBySpec } from '../../../operators/decodeBySpec.ts';
import { type DeviceDirectory, memoryDeviceDirectory } from '../../../operators/enrich/directory.ts';
import { type EnrichConfig, enrich, enrichConfigSchema } from '../../../operators/enrich.ts';
import { type DeadLetterStore, deadLetterStoreSink } from '../../../sinks/deadletter/deadLetterStore.ts';
import type { HotStore } from '../../../sinks/hot/hotStore.ts';
import { hotTelemetrySink } from '../../../sinks/hot/hotTelemetrySink.ts';
import { postgresHotStore } from '../../../sinks/hot/postgresHotStore.ts';
import type { SqlClient } from '../../../sinks/postgres/sql.ts';
import { kinesisAllShardsSource } from '../../../sources/kinesis/allShardsSource.ts';
import type { KinesisSourceConfigInput } from '../../../sources/kinesis/config.ts';
import {
  type Clock,
  type Logger,
  ManualClock,
  silentLogger,
  type Topology,
  TopologyBuilder,
} from '../../../topology/index.ts';

/** What the example names without defining. */
interface ExampleScope {
  readonly kinesis: KinesisSourceConfigInput;
  readonly clock: Clock;
  readonly log: Logger;
  readonly specs: SpecRegistry;
  readonly deadLetters: DeadLetterStore;
  readonly enrichConfig: EnrichConfig;
  readonly directory: DeviceDirectory;
  readonly hot: HotStore;
}

function builderExample(scope: ExampleScope): Topology {
  const { kinesis, clock, log, specs, deadLetters, enrichConfig, directory, hot } = scope;
  // from here to the return: the example in topology/builder.ts
  const b = new TopologyBuilder('telemetry');
  const raw = b.source('kinesis', kinesisAllShardsSource(kinesis, { clock, log })); // Stream<RawRecord>
  const telemetry = raw.via('decode', decodeBySpec(specs)); // Stream<Telemetry>
  telemetry.side('dlq').to('dead-letters', deadLetterStoreSink(deadLetters));
  const enriched = telemetry.via('enrich', enrich(enrichConfig, directory)); // Stream<Enriched>
  enriched.side('dlq').to('enrich-dead-letters', deadLetterStoreSink(deadLetters));
  enriched.rejected().to('enrich-rejected', deadLetterStoreSink(deadLetters));
  const hotTelemetry = enriched.to('hot-telemetry', hotTelemetrySink(hot));
  hotTelemetry.rejected().to('hot-telemetry-rejected', deadLetterStoreSink(deadLetters));
  const topology = b.build();
  return topology;
}

// Building a topology touches no store: any query would fail the test.
const unreachable: SqlClient = {
  query: () => Promise.reject(new Error('queried while building')),
  transaction: () => Promise.reject(new Error('queried while building')),
  close: async () => {},
};

describe('the builder example', () => {
  it('builds the example at the top of builder.ts', () => {
    const topology = builderExample({
      kinesis: { streamName: 'telemetry', region: 'us-east-1', endpoint: 'http://127.0.0.1:9' },
      clock: new ManualClock(),
      log: silentLogger,
      specs: new SpecRegistry('specs/examples'),
      deadLetters: {
        store: { name: 'warm.dead_letters', kind: 'memory' },
        write: () => Promise.reject(new Error('written while building')),
      },
      enrichConfig: enrichConfigSchema.parse({}),
      directory: memoryDeviceDirectory(new Map()),
      hot: postgresHotStore({ write: unreachable, read: unreachable }, { retentionDays: 10 }),
    });
    expect(topology.describe().nodes.map((n) => [n.name, n.kind])).toEqual([
      ['kinesis', 'source'],
      ['decode', 'operator'],
      ['dead-letters', 'sink'],
      ['enrich', 'operator'],
      ['enrich-dead-letters', 'sink'],
      ['enrich-rejected', 'sink'],
      ['hot-telemetry', 'sink'],
      ['hot-telemetry-rejected', 'sink'],
    ]);
  });
});
