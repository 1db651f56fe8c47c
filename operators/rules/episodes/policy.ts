/**
 * What the episode state machine is told about a rule: whom its alarms concern and how their
 * lifecycle runs (severity, latching, escalation, closing, flapping). Plain parameters: the ruleset
 * compiler fills them from a rule's alarm section.
 */
import type { AlarmSubject, Severity } from '../../../topology/index.ts';

/** How a rule's episodes live. Durations are milliseconds of the input's time (event time). */
export interface EpisodePolicy {
  /** The severity an episode is raised with, and falls back to. */
  readonly severity: Severity;
  /** An episode needs an acknowledgement to close: cleared, it stays open until acknowledged. */
  readonly latched?: boolean;
  /** Raise the severity to `to` once the episode has been active for `afterMs`. */
  readonly escalate?: { readonly to: Severity; readonly afterMs: number };
  /** Back to `severity` once an escalated episode has been cleared for this long (held open). */
  readonly deescalateAfterMs?: number;
  /**
   * A cleared episode closes after the condition has stayed false this long (0 or absent: at once);
   * a condition true again within it continues the same episode.
   */
  readonly closeAfterMs?: number;
  /** More than `maxChanges` state changes within `windowMs` is flapping; stable for `windowMs` ends it. */
  readonly flapping?: { readonly maxChanges: number; readonly windowMs: number };
}

/** A rule on a target as the state machine needs it. */
export interface AlarmRule extends AlarmSubject {
  readonly policy: EpisodePolicy;
}
