/**
 * The engineers file (`shardflow dispatch engineers import FILE`): the engineers with their skills,
 * regions, time zone and quiet hours, and the sites of each region. Checked by a zod schema and a few
 * checks across entries (an engineer listed twice, a site in two regions); each problem names the
 * file, the line and the key. Importing upserts the engineers by id and replaces the sites of the
 * regions the file lists (a region not in the file keeps its sites).
 *
 * ```yaml
 * engineers:
 *   - id: eng-ana
 *     name: Ana Lima
 *     email: ana@example.com
 *     skills: [hvac, electrical]
 *     regions: [north]          # '*' covers every site
 *     zone: Europe/Lisbon
 *     quietHours: { from: "22:00", to: "07:00" }
 *     active: true
 * regions:
 *   north: [site-1, site-2]
 * ```
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { SqlClient } from '../../sinks/postgres/sql.ts';
import { type FileProblem, parseWithSchema, parseYamlSource } from '../../specs/yamlSource.ts';
import { isKnownZone } from '../../topology/index.ts';

const idSchema = z
  .string()
  .regex(/^[A-Za-z0-9_][A-Za-z0-9_.:@-]*$/, 'an id: letters, digits and _ . : @ -')
  .max(200);
const timeSchema = z.string().regex(/^([01][0-9]|2[0-3]):[0-5][0-9]$/, 'a local time HH:MM, e.g. "22:00"');

const engineerSchema = z
  .object({
    id: idSchema,
    name: z.string().min(1),
    email: z.email(),
    skills: z.array(z.string().min(1)).default([]),
    regions: z.array(z.string().min(1)).min(1, 'at least one region (or "*": everywhere)'),
    zone: z.string().refine(isKnownZone, 'not an IANA time zone (e.g. Europe/Lisbon, America/Chicago)'),
    quietHours: z.object({ from: timeSchema, to: timeSchema }).strict().nullable().default(null),
    active: z.boolean().default(true),
  })
  .strict();

/** The engineers file's shape. */
export const engineerFileSchema = z
  .object({
    engineers: z.array(engineerSchema).default([]),
    regions: z
      .record(z.string().regex(/^[^*]+$/, 'a region name ("*" is reserved)'), z.array(idSchema))
      .default({}),
  })
  .strict();
export type EngineerFile = z.output<typeof engineerFileSchema>;

/** Parses and checks an engineers file's text. */
export function parseEngineerFile(
  file: string,
  text: string,
): { value: EngineerFile; problems?: undefined } | { value?: undefined; problems: FileProblem[] } {
  const parsed = parseYamlSource(file, text);
  if (parsed.problems) return { problems: parsed.problems };
  const result = parseWithSchema(parsed.source, engineerFileSchema);
  if (result.problems) return result;
  const problems: FileProblem[] = [];
  const engineers = new Map<string, number>();
  for (const [i, e] of result.value.engineers.entries()) {
    const first = engineers.get(e.id);
    if (first !== undefined)
      problems.push(
        parsed.source.problemAt(
          ['engineers', i, 'id'],
          `engineers.${i}.id: engineer ${e.id} is listed twice (also engineers.${first})`,
        ),
      );
    else engineers.set(e.id, i);
  }
  const regionOf = new Map<string, string>();
  for (const [region, sites] of Object.entries(result.value.regions))
    for (const [i, site] of sites.entries()) {
      const other = regionOf.get(site);
      if (other !== undefined)
        problems.push(
          parsed.source.problemAt(
            ['regions', region, i],
            `regions.${region}.${i}: site ${site} is also in region ${other} (a site is in one region)`,
          ),
        );
      else regionOf.set(site, region);
    }
  return problems.length > 0 ? { problems } : { value: result.value };
}

/** Reads and checks an engineers file. */
export function loadEngineerFile(
  file: string,
): { value: EngineerFile; problems?: undefined } | { value?: undefined; problems: FileProblem[] } {
  return parseEngineerFile(file, readFileSync(file, 'utf8'));
}

/** What an import wrote. */
export interface EngineerImport {
  readonly engineers: number;
  readonly regions: number;
  readonly sites: number;
}

/** Upserts the file's engineers and replaces the sites of its regions, on `tx` (run it in a transaction). */
export async function importEngineers(tx: SqlClient, file: EngineerFile): Promise<EngineerImport> {
  await tx.query(
    `INSERT INTO engineers (engineer_id, name, email, skills, regions, zone, quiet_from, quiet_to, active, updated_at)
     SELECT i, n, m, s, r, z, qf, qt, a, now()
     FROM jsonb_to_recordset($1::jsonb) AS u(i text, n text, m text, s text[], r text[], z text, qf text, qt text,
       a bool)
     ORDER BY i
     ON CONFLICT (engineer_id) DO UPDATE SET name = EXCLUDED.name, email = EXCLUDED.email,
       skills = EXCLUDED.skills, regions = EXCLUDED.regions, zone = EXCLUDED.zone,
       quiet_from = EXCLUDED.quiet_from, quiet_to = EXCLUDED.quiet_to, active = EXCLUDED.active,
       updated_at = now()`,
    [
      JSON.stringify(
        file.engineers.map((e) => ({
          i: e.id,
          n: e.name,
          m: e.email,
          s: e.skills,
          r: e.regions,
          z: e.zone,
          qf: e.quietHours?.from ?? null,
          qt: e.quietHours?.to ?? null,
          a: e.active,
        })),
      ),
    ],
  );
  const regions = Object.keys(file.regions);
  const sites = Object.entries(file.regions).flatMap(([region, ids]) => ids.map((s) => ({ s, r: region })));
  await tx.query('DELETE FROM site_regions WHERE region = ANY ($1::text[])', [regions]);
  await tx.query(
    `INSERT INTO site_regions (site_id, region)
     SELECT s, r FROM jsonb_to_recordset($1::jsonb) AS u(s text, r text)
     ON CONFLICT (site_id) DO UPDATE SET region = EXCLUDED.region`,
    [JSON.stringify(sites)],
  );
  return { engineers: file.engineers.length, regions: regions.length, sites: sites.length };
}
