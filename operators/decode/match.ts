/**
 * Recognising a record's spec: the envelope's `productId`, a topic pattern (`{hub}`, `{device}`
 * placeholders), and/or magic prefix bytes; every condition a spec gives must hold. Also reads hub
 * and device ids from topics, with the platform's standard MQTT topics as the fallback.
 */
import type { Spec } from '../../specs/schema.ts';
import type { Incoming } from './envelope.ts';

/** Ids a topic carries. */
export interface TopicIds {
  readonly hub?: string;
  readonly device?: string;
}

/** The platform's MQTT topics: hub, child of a hub, standalone device. */
const STANDARD_TOPICS = [
  /^devices\/(?<hub>[^/]+)\/child\/(?<device>[^/]+)\/telemetry$/,
  /^devices\/(?<device>[^/]+)\/telemetry$/,
];

/** A topic pattern as a regular expression with named groups. */
export function topicPattern(pattern: string): RegExp {
  const escaped = pattern.replace(/[.*+?^$()|[\]\\]/g, '\\$&');
  return new RegExp(`^${escaped.replace(/\{(hub|device)\}/g, '(?<$1>[^/]+)')}$`);
}

/** Reads hub and device ids from a topic with the spec's pattern, else the standard topics. */
export function topicIds(topic: string | undefined, pattern: RegExp | undefined): TopicIds | undefined {
  if (topic === undefined) return undefined;
  for (const re of pattern ? [pattern] : STANDARD_TOPICS) {
    const groups = re.exec(topic)?.groups;
    if (groups) return { hub: groups.hub, device: groups.device ?? groups.hub };
  }
  return undefined;
}

/** Compiles a spec's `match` into a predicate. */
export function compileMatch(match: Spec['match']): {
  test: (incoming: Incoming) => boolean;
  topic?: RegExp;
} {
  const topic = match.topic === undefined ? undefined : topicPattern(match.topic);
  const prefix = match.prefix === undefined ? undefined : Buffer.from(match.prefix, 'hex');
  const test = (incoming: Incoming): boolean => {
    if (match.productId !== undefined && incoming.envelope?.productId !== match.productId) return false;
    if (
      topic !== undefined &&
      !(incoming.envelope?.topic !== undefined && topic.test(incoming.envelope.topic))
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
