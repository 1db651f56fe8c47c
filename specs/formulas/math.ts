/**
 * The one mathjs instance formulas are parsed, checked and compiled with: plain numbers (no
 * BigNumber, no fractions) and `predictable`, so `sqrt(-1)` or `(-8)^(1/3)` give NaN rather than a
 * complex number. The functions that reach the parser or the instance itself (`import`,
 * `createUnit`, `evaluate`, `parse`, `compile`, `simplify`, `derivative`, `resolve`, `reviver`) are
 * replaced by ones that throw: the allowlist (`expression.ts`) already refuses every call to them, this
 * is the second wall the mathjs security notes recommend.
 */
import { all, create, type MathNode } from 'mathjs';

const math = create(all!, { number: 'number', predictable: true });
// the parser itself, kept before `parse` is disabled for expressions
const parse = math.parse;

const DISABLED = [
  'import',
  'createUnit',
  'evaluate',
  'parse',
  'compile',
  'simplify',
  'derivative',
  'resolve',
  'reviver',
] as const;
math.import(
  Object.fromEntries(
    DISABLED.map((name) => [
      name,
      () => {
        throw new Error(`${name} is disabled in formulas`);
      },
    ]),
  ),
  { override: true },
);

export type { MathNode };

/** Parses an expression with the formula instance's parser (throws a `SyntaxError` naming the character). */
export function parseFormula(expression: string): MathNode {
  return parse(expression);
}

/** True when `name` is a function or constant of mathjs (`sum`, `pi`, `e`…): not usable as a variable name. */
export function isMathName(name: string): boolean {
  return name in math;
}
