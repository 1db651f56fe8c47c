/**
 * Fixtures for the rule operator's tests: rulesets from YAML text (checked against the example
 * specs), thermo-t1 readings with their partition key, a seeded noisy signal, and a run of the
 * operator on the test driver with the embedded keyed state store.
 */

import { mulberry32 } from '../../gateways/simulator/fleet.ts';
import { type CompiledRuleset, compileRuleset } from '../../operators/rules/compile/compileRuleset.ts';
import { type RuleOperatorOptions, ruleOperator } from '../../operators/rules/ruleOperator.ts';
import { loadSpecDirectory } from '../../specs/loader.ts';
import { parseRuleset } from '../../specs/rules/loader.ts';
import { embeddedStateStore } from '../../state/keyed/embeddedStateStore.ts';
import {
  type AlarmEvent,
  type Enriched,
  ManualClock,
  MemorySource,
  type SinkRef,
  type Stream,
  TopologyBuilder,
  TopologyTestDriver,
} from '../../topology/index.ts';
import { keepingSink } from './scriptedSource.ts';
import { envelopeOf } from './windowReference.ts';

const SPECS = loadSpecDirectory('specs/examples').specs.map((s) => s.spec);

/** A thermo-t1 ruleset of `rules` (YAML list items, indented by two), compiled; throws when refused. */
export function thermoRules(rules: string, head = ''): CompiledRuleset {
  const text = `id: thermo-t1-test\nproductId: thermo-t1\nversion: 1\n${head}rules:\n${rules}`;
  const { ruleset, problems } = parseRuleset('rules.yaml', text, (p) =>
    SPECS.filter((s) => s.productId === p),
  );
  if (ruleset === undefined) throw new Error(problems.map((p) => `${p.line}: ${p.message}`).join('\n'));
  return compileRuleset(ruleset);
}

/**
 * A thermo-t1 reading of `device` at event time `t` (received by the gateway then too), its partition
 * key the device (or `key`); with `hub`, a child's reading that came through that hub.
 */
export function reading(
  device: string,
  t: number,
  metrics: Enriched['metrics'],
  extra: { site?: string; customer?: string; key?: string; hub?: string } = {},
): Enriched {
  return {
    device_id: device,
    device_timestamp: t,
    productId: 'thermo-t1',
    metrics,
    ...(extra.hub === undefined ? {} : { hub_id: extra.hub, childDeviceId: device }),
    ingest_timestamp: t,
    rawRef: {
      protocol: 'mqtt',
      format: 'json',
      stream: 'telemetry',
      shardId: 'shard-0',
      sequenceNumber: '0',
      partitionKey: extra.key ?? device,
    },
    site_id: extra.site ?? 'site-1',
    customer_id: extra.customer ?? 'customer-9',
  };
}

/** `n` samples of `mean + N(0, sigma)`, seeded (Box–Muller over mulberry32). */
export function noisySignal(seed: number, n: number, mean: number, sigma: number): number[] {
  const random = mulberry32(seed);
  const out: number[] = [];
  while (out.length < n) {
    const u = Math.max(random(), 1e-12);
    const v = random();
    const r = Math.sqrt(-2 * Math.log(u));
    out.push(mean + sigma * r * Math.cos(2 * Math.PI * v), mean + sigma * r * Math.sin(2 * Math.PI * v));
  }
  return out.slice(0, n);
}

/** The operator on the test driver, a batch at a time, with the embedded state store. */
export class RuleHarness {
  readonly clock: ManualClock;
  readonly driver: TopologyTestDriver;
  readonly operator: ReturnType<typeof ruleOperator>;
  private readonly input: Stream<Enriched>;
  private readonly sink: SinkRef<AlarmEvent>;

  constructor(options: RuleOperatorOptions, start = Date.UTC(2026, 0, 5)) {
    this.clock = new ManualClock(start);
    this.operator = ruleOperator(options);
    const b = new TopologyBuilder('rules-test');
    this.input = b.source('telemetry', new MemorySource<Enriched>());
    this.sink = this.input.via('rules', this.operator).to('alarms', keepingSink<AlarmEvent>([]));
    this.driver = new TopologyTestDriver(b.build(), {
      clock: this.clock,
      stateStore: embeddedStateStore(this.clock),
    });
  }

  /**
   * Sends readings in batches of `size` to `shard` and waits for them; `millisBehindLatest` is how far
   * behind the stream's tip the batches were read.
   */
  async send(
    records: readonly Enriched[],
    size = 10,
    shard = 'shard-0',
    options: { readonly millisBehindLatest?: number } = {},
  ): Promise<void> {
    for (let i = 0; i < records.length; i += size)
      this.driver.send(this.input, shard, records.slice(i, i + size), options);
    await this.driver.settle();
  }

  /** Every alarm event so far. */
  get events(): readonly AlarmEvent[] {
    return this.driver.output(this.sink);
  }

  close(): Promise<void> {
    return this.driver.close();
  }
}

/**
 * thermo-t1 readings of `devices` devices, `perDevice` each every `stepMs` from `t0`, in arrival order
 * over the fleet: temperature a wave of 40 minutes (at 15 s steps) about 25 °C of ±9 with noise
 * (σ 0.4), above `overheat`'s 30 °C for about 12 minutes of each (past its escalation after 10
 * minutes); humidity a wave about 78 % of ±9.
 */
export function thermoWaves(devices: number, perDevice: number, t0: number, stepMs: number) {
  const temperature = Array.from({ length: devices }, (_, d) => noisySignal(100 + d, perDevice, 0, 0.4));
  const humidity = Array.from({ length: devices }, (_, d) => noisySignal(500 + d, perDevice, 0, 1));
  const out = [];
  for (let i = 0; i < perDevice; i++)
    for (let d = 0; d < devices; d++) {
      const at = t0 + i * stepMs + d * 37;
      const metrics = {
        temperature: 25 + 9 * Math.sin((2 * Math.PI * (i + 17 * d)) / 160) + temperature[d]![i]!,
        humidity: Math.min(100, 78 + 9 * Math.sin((2 * Math.PI * (i + 11 * d)) / 90) + humidity[d]![i]!),
      };
      out.push(envelopeOf(`thermo-${String(d).padStart(3, '0')}`, 'thermo-t1', at, at + 1000, metrics));
    }
  return out;
}
