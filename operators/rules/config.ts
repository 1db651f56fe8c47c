/**
 * The rule operator's configuration (`rules:` in the worker's configuration, besides where the
 * rulesets come from): the schema is the one source of its validation, defaults and docs.
 */
import { z } from 'zod';

/** Configuration of the rule operator. */
export const ruleOperatorConfigSchema = z
  .object({
    allowedOutOfOrdernessMs: z
      .number()
      .int()
      .min(0)
      .default(300_000)
      .describe(
        "the shard's event-time watermark trails its latest reading by this much; a reading further behind is not judged",
      ),
    absenceMaxLagMs: z
      .number()
      .int()
      .min(0)
      .default(60_000)
      .describe(
        "absence rules raise nothing while the shard's reader is further behind the tip of the stream than this (the consumer is late, not the devices)",
      ),
  })
  .strict();

/** The validated configuration. */
export type RuleOperatorConfig = z.infer<typeof ruleOperatorConfigSchema>;

/**
 * The worker's `rules:` section: where the rulesets are, and the operator's settings. No rules stage
 * when absent.
 */
export const rulesSectionSchema = z
  .object({
    dir: z
      .string()
      .min(1)
      .optional()
      .describe(
        'directory of ruleset YAML files, loaded when the worker starts (each problem stops it, with its file and line; per product the highest version is in force); without it the rulesets are those stored in the Warm store (`shardflow rules import`), each reloaded when an import changes it',
      ),
    specDir: z
      .string()
      .optional()
      .describe(
        "the product specs the rulesets are checked against (default: decode.specDir's, else the bundled ones)",
      ),
    siteZonesRefreshMs: z
      .number()
      .int()
      .min(1000)
      .default(60_000)
      .describe(
        "how often the sites' time zones (for schedules in `zone: site`) are read again from the master data",
      ),
    ...ruleOperatorConfigSchema.shape,
  })
  .strict();

/** The validated `rules:` section. */
export type RulesSection = z.infer<typeof rulesSectionSchema>;
