/**
 * How people's actions (alarm action records, `topology/alarms.ts`) travel the telemetry branch to the
 * rule operator, in their place among the readings of the same shard:
 *
 * - `decodeWithActions(decode)`: the decode stage with alarm action records recognised first, by their
 *   first bytes (`looksLikeAlarmAction`, no parsing of telemetry). A valid one passes on in its place;
 *   one that is not valid, or any when the worker runs no rules stage (`passActions: false`), goes to
 *   `dlq` with its reason (`invalid-alarm-action`, `alarm-action-unowned`), never to "no spec matches".
 * - `enrichWithActions(enrich, { toRules })`: the enrich stage, which passes the actions by; its main output stays
 *   the enriched readings (windows, Hot, Cold never see an action) and its side output `rules` is the
 *   readings and the actions in stream order, which the rule operator reads.
 *
 * Both call the wrapped stage on the runs of readings between actions (a batch without an action, the
 * usual case, is handed over whole), so the order of the shard's records is kept exactly.
 */
import {
  type AlarmActionRecord,
  type DeadLetter,
  deadLetterOf,
  type Enriched,
  isAlarmAction,
  looksLikeAlarmAction,
  type Operator,
  type OperatorContext,
  type RawRecord,
  readAlarmAction,
  type Telemetry,
} from '../topology/index.ts';

type Dlq = { dlq: DeadLetter };

/** Runs `stage` on the runs of items between the ones `isPassed` picks, keeping those in their place. */
async function aroundPassed<In, P, Out>(
  batch: readonly In[],
  isPassed: (x: In) => P | undefined,
  stage: (run: readonly In[]) => readonly Out[] | Promise<readonly Out[]>,
): Promise<(Out | P)[]> {
  const out: (Out | P)[] = [];
  let run: In[] = [];
  const flush = async () => {
    if (run.length === 0) return;
    for (const x of await stage(run)) out.push(x);
    run = [];
  };
  for (const x of batch) {
    const passed = isPassed(x);
    if (passed === undefined) {
      run.push(x);
      continue;
    }
    await flush();
    out.push(passed);
  }
  await flush();
  return out;
}

/** The decode stage with alarm action records recognised before the specs are asked. */
export function decodeWithActions(
  decode: Operator<RawRecord, Telemetry, Dlq>,
  options: { readonly passActions: boolean },
): Operator<RawRecord, Telemetry | AlarmActionRecord, Dlq> {
  return {
    ...decode,
    process: (batch, ctx) => {
      if (!batch.some((r) => looksLikeAlarmAction(r.data))) return decode.process(batch, ctx);
      const now = ctx.clock.now();
      // each action record read once: the valid ones pass on, the others are dead-lettered and dropped
      const actions = new Map<RawRecord, AlarmActionRecord | null>();
      for (const r of batch) {
        if (!looksLikeAlarmAction(r.data)) continue;
        const read = readAlarmAction(r);
        if ('problem' in read) {
          ctx.side('dlq', deadLetterOf(r, ctx.node, read.problem, now, { code: 'invalid-alarm-action' }));
          actions.set(r, null);
        } else if (!options.passActions) {
          const reason = `alarm action ${read.actionId} on ${read.episodeId}: this worker runs no rules stage`;
          ctx.side('dlq', deadLetterOf(r, ctx.node, reason, now, { code: 'alarm-action-unowned' }));
          actions.set(r, null);
        } else actions.set(r, read);
      }
      return aroundPassed(
        batch.filter((r) => actions.get(r) !== null),
        (r) => actions.get(r) ?? undefined,
        (run) => decode.process(run, ctx),
      );
    },
  };
}

/**
 * The enrich stage passing alarm action records by: main output the enriched readings, side output
 * `rules` the readings and the actions in stream order.
 */
export function enrichWithActions(
  enrich: Operator<Telemetry, Enriched, Dlq>,
  options: { readonly toRules: boolean },
): Operator<Telemetry | AlarmActionRecord, Enriched, Dlq & { rules: Enriched | AlarmActionRecord }> {
  return {
    ...enrich,
    sideOutputs: options.toRules ? [...(enrich.sideOutputs ?? []), 'rules'] : (enrich.sideOutputs ?? []),
    process: async (batch, ctx) => {
      // without a rules stage decode passes no action on: the readings are the batch
      if (!options.toRules) return enrich.process(batch as readonly Telemetry[], ctx);
      const inner = ctx as unknown as OperatorContext<Dlq>;
      if (!batch.some(isAlarmAction)) {
        const readings = await enrich.process(batch as readonly Telemetry[], inner);
        for (const x of readings) ctx.side('rules', x);
        return readings;
      }
      const all = await aroundPassed<Telemetry | AlarmActionRecord, AlarmActionRecord, Enriched>(
        batch,
        (x) => (isAlarmAction(x) ? x : undefined),
        (run) => enrich.process(run as readonly Telemetry[], inner),
      );
      const readings: Enriched[] = [];
      for (const x of all) {
        ctx.side('rules', x);
        if (!isAlarmAction(x)) readings.push(x);
      }
      return readings;
    },
  };
}
