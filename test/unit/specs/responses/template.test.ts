/**
 * Notification templates: placeholders with or without spaces, null and absent values, the names a
 * text uses, the fallback from a severity's template to the channel's default to the built-in one,
 * and a cached render fast enough to run for every alarm.
 */
import { describe, expect, it } from 'vitest';
import { parsePolicySet } from '../../../../specs/responses/loader.ts';
import {
  BUILTIN_TEMPLATES,
  renderTemplate,
  TEMPLATE_FIELDS,
  templateFor,
  templatePlaceholders,
} from '../../../../specs/responses/template.ts';

describe('renderTemplate', () => {
  it('fills {{name}} and {{ name }} and leaves other text as it is', () => {
    expect(
      renderTemplate('[{{severity}}] {{ ruleId }} on {{deviceId}}: {{value}} ({{flag}})', {
        severity: 'major',
        ruleId: 'overheat',
        deviceId: 'thermo-0001',
        value: 31.5,
        flag: false,
      }),
    ).toBe('[major] overheat on thermo-0001: 31.5 (false)');
    expect(renderTemplate('no placeholders {here}', {})).toBe('no placeholders {here}');
    expect(renderTemplate('{{a}}{{a}}{{b}}', { a: 'x', b: 0 })).toBe('xx0');
  });

  it('renders null and absent values empty', () => {
    expect(renderTemplate('site <{{siteId}}> link <{{link}}>', { siteId: null })).toBe('site <> link <>');
  });

  it('does not read names off the object prototype', () => {
    expect(renderTemplate('{{constructor}}|{{toString}}', {})).toBe('|');
  });

  it('lists the placeholders a text uses, once each, in order', () => {
    expect(templatePlaceholders('{{ b }} {{a}} {{b}} {{ not a name }} {{c1}}')).toEqual(['b', 'a', 'c1']);
  });

  it('renders a cached template 100,000 times in well under a second', () => {
    const text = BUILTIN_TEMPLATES.email.body;
    const fields = Object.fromEntries(TEMPLATE_FIELDS.map((f) => [f, `${f}-value`]));
    expect(renderTemplate(text, fields)).toContain('Severity: severity-value');
    const started = performance.now();
    let length = 0;
    for (let i = 0; i < 100_000; i++) length += renderTemplate(text, { ...fields, value: i }).length;
    const ms = performance.now() - started;
    expect(length).toBeGreaterThan(100_000 * 100);
    expect(ms).toBeLessThan(1_000);
  });
});

describe('templateFor', () => {
  const { set } = parsePolicySet(
    'p.yaml',
    `id: p
productId: thermo-t1
version: 1
templates:
  email:
    default: { subject: "d {{severity}}", body: "default body" }
    major: { body: "major body" }
policies:
  - alarm: "*"
    dispatch: {}
`,
  );

  it("takes the severity's template, else the channel's default, else the built-in one", () => {
    expect(templateFor(set!, 'email', 'major')).toEqual({
      subject: '{{severity}}: {{message}}',
      body: 'major body',
    });
    expect(templateFor(set!, 'email', 'minor')).toEqual({ subject: 'd {{severity}}', body: 'default body' });
    expect(templateFor(set!, 'email', 'constructor')).toEqual({
      subject: 'd {{severity}}',
      body: 'default body',
    });
    expect(templateFor(set!, 'sns', 'major')).toBe(BUILTIN_TEMPLATES.sns);
  });

  it('has built-in templates that name severity, rule, device, message and value, with known placeholders only', () => {
    for (const template of Object.values(BUILTIN_TEMPLATES)) {
      const used = [...templatePlaceholders(template.subject), ...templatePlaceholders(template.body)];
      for (const name of ['severity', 'ruleId', 'deviceId', 'message', 'value']) expect(used).toContain(name);
      for (const name of used) expect(TEMPLATE_FIELDS).toContain(name);
    }
  });
});
