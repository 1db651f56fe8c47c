/**
 * The one mathjs instance formulas are parsed, checked and compiled with: plain numbers (no
 * BigNumber, no fractions) and `predictable`, so `sqrt(-1)` or `(-8)^(1/3)` give NaN rather than a
 * complex number. The functions that reach the parser or the instance itself (`import`,
 * `createUnit`, `evaluate`, `parse`, `compile`, `simplify`, `derivative`, `resolve`, `reviver`) are
 * replaced by ones that throw: the allowlist (`expression.ts`) already refuses every call to them, this
 * is the second wall the mathjs security notes recommend.
 *
 * Two kinds of mathjs functions are replaced for cost, not safety, with the same results on numbers
 * (`bench:formulas` measured both; other argument types go to mathjs's own):
 * - `and` and `or` are lazy in mathjs expressions: each evaluation compiles their operands again,
 *   so a chain of n of them cost about n²/2 compilations per evaluation (21 ms and 10 MiB for a
 *   1,000-character chain). Here they evaluate both operands, like every other operator; with
 *   numbers and booleans only there is nothing a short circuit could skip.
 * - `floor`, `ceil`, `fix`, `round` and `mod` round through the number's decimal digits as strings,
 *   which for a magnitude near 1e308 or 1e-300 is hundreds of digits per call. A double of magnitude
 *   2^53 or more is an integer already, and one within mathjs's absolute tolerance (1e-15) of zero
 *   rounds to zero: those two ranges are answered directly, the rest by mathjs.
 */
import { all, create, type MathNode } from 'mathjs';

const math = create(all!, { number: 'number', predictable: true });
// the parser itself, kept before `parse` is disabled for expressions
const parse = math.parse;

const INTEGRAL = 2 ** 53;
// mathjs's absolute tolerance (config.absTol): a value this close to zero rounds to zero
const ABS_TOL = 1e-15;

type AnyFn = (...args: unknown[]) => unknown;
const mathFn = (name: string) => (math as unknown as Record<string, AnyFn>)[name]!;

/**
 * mathjs's one-argument `floor`, `ceil` or `round` on numbers, answered directly where that needs no
 * digits: a magnitude of 2^53 or more is an integer already; a non-zero one within the absolute
 * tolerance gives what mathjs gives any such value of its sign (asked once).
 */
function integral(name: 'floor' | 'ceil' | 'round'): (x: number) => number {
  const fn = mathFn(name) as (x: number) => number;
  const tiny = [fn(-1e-300), fn(1e-300)] as const;
  return (x) => {
    const magnitude = Math.abs(x);
    if (magnitude >= INTEGRAL || !Number.isFinite(x)) return x;
    if (magnitude <= ABS_TOL && magnitude > 0) return tiny[x < 0 ? 0 : 1];
    return fn(x);
  };
}

const floor1 = integral('floor');
const ceil1 = integral('ceil');
const round1 = integral('round');
const isNumber = (x: unknown): x is number => typeof x === 'number';
/** mathjs's `floor(x, n)` and `ceil(x, n)` on numbers (`x * 10^n` to an integer, over `10^n`); other arguments to mathjs. */
const withDecimals = (one: (x: number) => number, fn: AnyFn): AnyFn => {
  return (x, n) => {
    if (!isNumber(x)) return n === undefined ? fn(x) : fn(x, n);
    if (n === undefined) return one(x);
    if (!isNumber(n) || !Number.isInteger(n) || n < 0 || n > 15) return fn(x, n); // mathjs's error
    const shift = 10 ** n;
    return one(x * shift) / shift;
  };
};
const floor = withDecimals(floor1, mathFn('floor'));
const ceil = withDecimals(ceil1, mathFn('ceil'));
const round = mathFn('round');
const mod = mathFn('mod');
const and = mathFn('and');
const or = mathFn('or');
const logical = (fn: AnyFn, op: (a: unknown, b: unknown) => boolean): AnyFn => {
  const plain = (v: unknown) => typeof v === 'number' || typeof v === 'boolean';
  return (a, b) => (plain(a) && plain(b) ? op(a, b) : fn(a, b));
};
math.import(
  {
    floor,
    ceil,
    fix: (x: unknown, n?: unknown) =>
      isNumber(x) ? ((x > 0 ? floor : ceil) as AnyFn)(x, n) : mathFn('fix')(x, n),
    // an integer of 2^53 or more keeps every decimal it has (none)
    round: (x: unknown, n?: unknown) => {
      if (!isNumber(x)) return n === undefined ? round(x) : round(x, n);
      if (n === undefined) return round1(x);
      return Math.abs(x) >= INTEGRAL && isNumber(n) && Number.isInteger(n) && n >= 0 ? x : round(x, n);
    },
    mod: (x: unknown, y: unknown) =>
      isNumber(x) && isNumber(y) ? (y === 0 ? x : x - y * floor1(x / y)) : mod(x, y),
    and: logical(and, (a, b) => !!(a && b)),
    or: logical(or, (a, b) => !!(a || b)),
  },
  { override: true },
);

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
