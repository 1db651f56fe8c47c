/** Formula versions for tests: `formula({ … })` is a valid version with the given fields changed. */
import { type Formula, formulaSchema } from '../../specs/formulas/schema.ts';

/** Version 1 of formula `f` of product `p`, `a` = the day's sum of `power`, with `over` applied. */
export const formula = (over: Record<string, unknown>): Formula =>
  formulaSchema.parse({
    id: 'f',
    version: 1,
    productId: 'p',
    expression: 'a',
    variables: { a: { metric: 'power', stat: 'sum' } },
    ...over,
  });
