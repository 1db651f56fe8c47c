/** The engineers file: its problems name the file, the line and the key. */
import { describe, expect, it } from 'vitest';
import { parseEngineerFile } from '../../../../actions/dispatch/engineers.ts';

const GOOD = `engineers:
  - id: eng-ana
    name: Ana Lima
    email: ana@example.com
    skills: [hvac]
    regions: [north]
    zone: Europe/Lisbon
    quietHours: { from: "22:00", to: "07:00" }
  - id: eng-bo
    name: Bo Berg
    email: bo@example.com
    regions: ["*"]
    zone: UTC
    active: false
regions:
  north: [site-1, site-2]
`;

describe('engineers file', () => {
  it('parses a good file with defaults', () => {
    const { value, problems } = parseEngineerFile('eng.yaml', GOOD);
    expect(problems).toBeUndefined();
    expect(value!.engineers[0]).toMatchObject({
      id: 'eng-ana',
      quietHours: { from: '22:00', to: '07:00' },
      active: true,
    });
    expect(value!.engineers[1]).toMatchObject({ skills: [], quietHours: null, active: false });
    expect(value!.regions).toEqual({ north: ['site-1', 'site-2'] });
  });

  it('names the line and key of a bad zone, a bad time and an unknown key', () => {
    const text = GOOD.replace('zone: Europe/Lisbon', 'zone: Europe/Lisbn')
      .replace('to: "07:00"', 'to: "7pm"')
      .replace('    active: false', '    activ: false');
    const { problems } = parseEngineerFile('eng.yaml', text);
    expect(problems).toEqual(
      expect.arrayContaining([
        {
          file: 'eng.yaml',
          line: 7,
          message: expect.stringMatching(/^engineers\.0\.zone: not an IANA time zone/),
        },
        {
          file: 'eng.yaml',
          line: 8,
          message: expect.stringMatching(/^engineers\.0\.quietHours\.to: a local time HH:MM/),
        },
        // at the key's own line, with the keys allowed there
        {
          file: 'eng.yaml',
          line: 14,
          message: expect.stringMatching(/^engineers\.1: unknown key "activ"; allowed: id, .*active$/),
        },
      ]),
    );
    expect(problems).toHaveLength(3);
  });

  it('refuses an engineer listed twice and a site in two regions, at their lines', () => {
    const text = `${GOOD.replace('id: eng-bo', 'id: eng-ana')}  south: [site-3, site-1]\n`;
    const { problems } = parseEngineerFile('eng.yaml', text);
    expect(problems).toEqual([
      {
        file: 'eng.yaml',
        line: 9,
        message: 'engineers.1.id: engineer eng-ana is listed twice (also engineers.0)',
      },
      {
        file: 'eng.yaml',
        line: 17,
        message: 'regions.south.1: site site-1 is also in region north (a site is in one region)',
      },
    ]);
  });

  it('a YAML syntax error names its line', () => {
    const { problems } = parseEngineerFile('eng.yaml', 'engineers:\n  - id: [oops\n');
    expect(problems![0]).toMatchObject({ file: 'eng.yaml', line: expect.any(Number) });
    expect(problems![0]!.message).toMatch(/^not valid YAML/);
  });
});
