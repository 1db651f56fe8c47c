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
  })
  .strict();

/** The validated configuration. */
export type RuleOperatorConfig = z.infer<typeof ruleOperatorConfigSchema>;
