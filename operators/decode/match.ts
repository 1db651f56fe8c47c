/**
 * Recognising a record's spec: the envelope's `productId`, a topic pattern (`{hub}`, `{device}`
 * placeholders), and/or magic prefix bytes; every condition a spec gives must hold. A spec may also
 * be recognised through the device registry (`match.registry`), which the spec registry consults
 * only when no spec's own conditions hold. Also reads hub and device ids from topics, with the
 * platform's standard MQTT topics as the fallback.
 */
import type { Spec } from '../../specs/schema.ts';
import type { Incoming } from './envelope.ts';

/** Ids a topic carries. */
export interface TopicIds {
  readonly hub?: string;
  readonly device?: string;
}

/**
 * Which product a device is: a synchronous lookup in an in-memory snapshot of the master data,
 * kept current by whoever provides it.
 */
export interface DeviceRegistry {
  /** The product id of a device, or `undefined` when the registry does not know the device. */
  productOf(deviceId: string): string | undefined;
}

/** A topic pattern compiled: the expression and the capture group of each id (0 when absent). */
export interface TopicPattern {
  readonly re: RegExp;
  readonly hub: number;
  readonly device: number;
}

/** The platform's MQTT topics: child of a hub, then hub or standalone device. */
const STANDARD_TOPICS: readonly TopicPattern[] = [
  { re: /^devices\/([^/]+)\/child\/([^/]+)\/telemetry$/, hub: 1, device: 2 },
  { re: /^devices\/([^/]+)\/telemetry$/, hub: 1, device: 0 },
];

/** A topic pattern as a regular expression with one capture group per placeholder. */
function topicPattern(pattern: string): TopicPattern {
  const escaped = pattern.replace(/[.*+?^$()|[\]\\]/g, '\\$&');
  let group = 0;
  let hub = 0;
  let device = 0;
  const source = escaped.replace(/\{(hub|device)\}/g, (_, part: string) => {
    group++;
    if (part === 'hub' && hub === 0) hub = group;
    if (part === 'device' && device === 0) device = group;
    return '([^/]+)';
  });
  return { re: new RegExp(`^${source}$`), hub, device };
}

/**
 * Reads hub and device ids from a topic with the spec's pattern, else the standard topics. On a
 * topic without a device placeholder, the hub is the device.
 */
export function topicIds(topic: string | undefined, pattern: TopicPattern | undefined): TopicIds | undefined {
  if (topic === undefined) return undefined;
  for (const p of pattern ? [pattern] : STANDARD_TOPICS) {
    const m = p.re.exec(topic);
    if (m === null) continue;
    const hub = p.hub === 0 ? undefined : m[p.hub];
    return { hub, device: p.device === 0 ? hub : m[p.device] };
  }
  return undefined;
}

/** Whether a spec names any condition of its own (`registry` alone names none). */
function hasOwnConditions(match: Spec['match']): boolean {
  return match.productId !== undefined || match.topic !== undefined || match.prefix !== undefined;
}

/** Compiles a spec's `match` into a predicate over its own conditions. */
export function compileMatch(match: Spec['match']): {
  test: (incoming: Incoming) => boolean;
  topic?: TopicPattern;
} {
  const topic = match.topic === undefined ? undefined : topicPattern(match.topic);
  const prefix = match.prefix === undefined ? undefined : Buffer.from(match.prefix, 'hex');
  if (!hasOwnConditions(match)) return { test: () => false, topic };
  const test = (incoming: Incoming): boolean => {
    if (match.productId !== undefined && incoming.envelope?.productId !== match.productId) return false;
    if (
      topic !== undefined &&
      !(incoming.envelope?.topic !== undefined && topic.re.test(incoming.envelope.topic))
    )
      return false;
    if (prefix !== undefined) {
      const p = incoming.payload;
      if (p.length < prefix.length) return false;
      for (let i = 0; i < prefix.length; i++) if (p[i] !== prefix[i]) return false;
    }
    return true;
  };
  return { test, topic };
}
