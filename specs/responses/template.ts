/**
 * Notification templates: `{{name}}` placeholders (spaces inside the braces allowed) filled from an
 * alarm's facts. The names a template may use are `TEMPLATE_FIELDS`, defined here once: `validate.ts`
 * refuses others, the outbox fills these. A text is compiled once (split into literal parts and
 * names) and kept, so rendering the same template for every alarm costs a join.
 */
import type { ChannelTemplate, NotifyChannel, ResponsePolicySet } from './schema.ts';

/**
 * The placeholders a template may use, each filled by the outbox from the alarm event:
 * - `severity`: the event's severity (the platform's name: info, warning, minor, major, critical)
 * - `message`: the rule's message for the alarm
 * - `ruleId`, `episodeId`: the rule, and the episode (one occurrence of the alarm)
 * - `productId`, `customerId`, `siteId`, `deviceId`: whom it concerns (empty when unknown)
 * - `targetKind`, `targetId`: what the rule watches (device, hub, site or customer, and its id)
 * - `value`: the value that last made the condition true (empty when none)
 * - `status`: `active` or `cleared`
 * - `openedAt`, `at`: when the episode opened, when this event happened (ISO 8601, UTC)
 * - `event`: what happened (`raise`, `clear`, `severity`, … as in `topology/alarms.ts`)
 * - `step`: which action of the policy this is (`escalation 2`, `reminder 3`, `clear`)
 * - `link`: where to see the alarm (the console's page of the episode; empty when none is configured)
 */
export const TEMPLATE_FIELDS = [
  'severity',
  'message',
  'ruleId',
  'episodeId',
  'productId',
  'customerId',
  'siteId',
  'deviceId',
  'targetKind',
  'targetId',
  'value',
  'status',
  'openedAt',
  'at',
  'event',
  'step',
  'link',
] as const;
export type TemplateField = (typeof TEMPLATE_FIELDS)[number];

/** What a template is filled with: a value per placeholder name; null and absent names render empty. */
export type TemplateValues = Readonly<Record<string, string | number | boolean | null>>;

/** A placeholder: `{{name}}`, `{{ name }}`. */
const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

/** A compiled text: literal parts at even indexes, placeholder names at odd ones. */
type Compiled = readonly string[];

/** Compiled texts; templates come from a few policy sets, but a bound keeps a stray caller harmless. */
const compiled = new Map<string, Compiled>();
const MAX_COMPILED = 10_000;

function compile(text: string): Compiled {
  let parts = compiled.get(text);
  if (parts === undefined) {
    // split with one capture group alternates literal text and captured names
    parts = text.split(PLACEHOLDER);
    if (compiled.size >= MAX_COMPILED) compiled.clear();
    compiled.set(text, parts);
  }
  return parts;
}

/** `text` with each `{{name}}` replaced by `fields[name]` (null or absent: empty). */
export function renderTemplate(text: string, fields: TemplateValues): string {
  const parts = compile(text);
  if (parts.length === 1) return text;
  let out = parts[0]!;
  for (let i = 1; i < parts.length; i += 2) {
    const name = parts[i]!;
    // own names only: `{{constructor}}` is not a field
    const value = Object.hasOwn(fields, name) ? fields[name] : null;
    if (value !== null && value !== undefined) out += String(value);
    out += parts[i + 1]!;
  }
  return out;
}

/** The placeholder names `text` uses, in order of first use. */
export function templatePlaceholders(text: string): string[] {
  const parts = compile(text);
  const names = new Set<string>();
  for (let i = 1; i < parts.length; i += 2) names.add(parts[i]!);
  return [...names];
}

/** Where `text` has `{{` or `}}` that is not part of a placeholder (a typo such as `{{ device id }}`). */
export function strayBraces(text: string): boolean {
  const parts = compile(text);
  for (let i = 0; i < parts.length; i += 2) if (/\{\{|\}\}/.test(parts[i]!)) return true;
  return false;
}

const BODY_FACTS = 'Device {{deviceId}} ({{targetKind}} {{targetId}}), value {{value}}, since {{openedAt}}.';

/** The template of a channel when a set has none: it names severity, rule, device, message and value. */
export const BUILTIN_TEMPLATES: Readonly<Record<NotifyChannel, ChannelTemplate>> = {
  sns: {
    subject: '[{{severity}}] {{ruleId}} on {{deviceId}}: {{message}}',
    body: `{{severity}} alarm {{ruleId}} ({{event}}, {{step}}): {{message}}. ${BODY_FACTS} {{link}}`,
  },
  email: {
    subject: '[{{severity}}] {{ruleId}} on {{deviceId}}: {{message}}',
    body: [
      'Alarm {{ruleId}} is {{status}} ({{event}}, {{step}}).',
      '',
      'Severity: {{severity}}',
      'Message:  {{message}}',
      'Device:   {{deviceId}} ({{targetKind}} {{targetId}})',
      'Site:     {{siteId}}',
      'Customer: {{customerId}}',
      'Value:    {{value}}',
      'Opened:   {{openedAt}}',
      'Episode:  {{episodeId}}',
      '',
      '{{link}}',
    ].join('\n'),
  },
  webhook: {
    subject: '{{severity}}: {{ruleId}} on {{deviceId}}',
    body: `{{severity}} alarm {{ruleId}} ({{event}}, {{step}}): {{message}}. ${BODY_FACTS}`,
  },
};

/**
 * The template a notification of `severity` on `channel` uses: the set's template for that severity,
 * else the set's `default` for the channel, else the built-in one.
 */
export function templateFor(
  set: ResponsePolicySet,
  channel: NotifyChannel,
  severity: string,
): ChannelTemplate {
  const own = set.templates[channel];
  if (own === undefined) return BUILTIN_TEMPLATES[channel];
  return (
    (Object.hasOwn(own, severity) ? own[severity] : undefined) ?? own.default ?? BUILTIN_TEMPLATES[channel]
  );
}
