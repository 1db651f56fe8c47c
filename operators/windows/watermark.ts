/**
 * Event time as the operator hands it to the backend: the watermark policy it passes with every call
 * (the backend keeps no configuration), and the operator's view of the global watermark, which each
 * of its shards' calls may raise and which the late decision and watermark alignment read.
 */
import type { WatermarkPolicy } from '../../topology/index.ts';
import type { WindowAggregateConfig } from './config.ts';

/** The policy of a configuration. */
export function watermarkPolicy(config: WindowAggregateConfig): WatermarkPolicy {
  return {
    outOfOrdernessMs: config.allowedOutOfOrdernessMs,
    allowedLatenessMs: config.allowedLatenessMs,
    retentionMs: config.retentionMs,
    idleTimeoutMs: config.idleTimeoutMs,
  };
}

/** The highest global watermark the backend answered any of this operator's calls: it never goes back. */
export class GlobalWatermark {
  value = Number.NEGATIVE_INFINITY;

  /** Takes the global watermark of a backend's answer. */
  raise(watermark: number): void {
    if (watermark > this.value) this.value = watermark;
  }
}
