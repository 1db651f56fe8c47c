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
 * - `floor`, `ceil`, `fix`, `round` and `mod` round through the number's decimal digits as strings
 *   (microseconds per call; for a magnitude near 1e308 or 1e-300, hundreds of digits). `floor`,
 *   `ceil`, `fix` and `mod` are computed here with mathjs's tolerance near integers; `round` is
 *   answered here for a magnitude of 2^53 or more (an integer already) and one too small to round
 *   to anything but zero, and by mathjs otherwise (a few microseconds a call).
 */
import { all, create, type MathNode } from 'mathjs';

const math = create(all!, { number: 'number', predictable: true });
// the parser itself, kept before `parse` is disabled for expressions
const parse = math.parse;

const INTEGRAL = 2 ** 53;
const ABS_TOL = 1e-15;

type AnyFn = (...args: unknown[]) => unknown;
const mathFn = (name: string) => (math as unknown as Record<string, AnyFn>)[name]!;

// mathjs's tolerances (config.relTol, config.absTol): how near an integer a value is that integer
const REL_TOL = 1e-12;

function nearlyEqual(a: number, b: number): boolean {
  return a === b || Math.abs(a - b) <= Math.max(REL_TOL * Math.max(Math.abs(a), Math.abs(b)), ABS_TOL);
}

/**
 * A one-argument function of mathjs on numbers, answered directly where that needs no digits: a
 * magnitude of 2^53 or more is an integer already; a non-zero one within the absolute tolerance gives
 * what mathjs gives any such value of its sign (asked once); else `rest`.
 */
function integral(name: 'floor' | 'ceil' | 'round', rest?: (x: number) => number): (x: number) => number {
  const fn = mathFn(name) as (x: number) => number;
  const tiny = [fn(-1e-300), fn(1e-300)] as const;
  const otherwise = rest ?? fn;
  return (x) => {
    const magnitude = Math.abs(x);
    if (magnitude >= INTEGRAL || !Number.isFinite(x)) return x;
    if (magnitude <= ABS_TOL && magnitude > 0) return tiny[x < 0 ? 0 : 1];
    return otherwise(x);
  };
}

/**
 * mathjs's `floor` and `ceil` on numbers (`floor.js`, `ceil.js`): the JavaScript one, unless the value
 * is within the tolerance of the nearest integer and not of that one. mathjs takes the nearest integer
 * from its own `round`; `Math.round` differs from it only at a half, where the value is within the
 * tolerance of both neighbours or of neither, and the answer is the same.
 */
const tolerant =
  (js: (x: number) => number) =>
  (x: number): number => {
    const f = js(x);
    const r = Math.round(x);
    if (f === r) return f;
    return nearlyEqual(x, r) && !nearlyEqual(x, f) ? r : f;
  };

const floor1 = integral('floor', tolerant(Math.floor));
const ceil1 = integral('ceil', tolerant(Math.ceil));
const round1 = integral('round');
// below half the 15th decimal: `round(x, n)` (n ≤ 15) is what mathjs gives any such value of its sign
const TINY = 1e-16;
const tinyRounds = new Map<number, number>();
function roundTiny(sign: -1 | 1, n: number): number {
  const key = sign * (n + 1);
  let r = tinyRounds.get(key);
  if (r === undefined) {
    r = round(sign * 1e-300, n) as number;
    tinyRounds.set(key, r);
  }
  return r;
}
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
      if (!isNumber(n) || !Number.isInteger(n) || n < 0 || n > 15) return round(x, n);
      const magnitude = Math.abs(x);
      if (magnitude >= INTEGRAL) return x;
      if (magnitude <= TINY && magnitude > 0) return roundTiny(x < 0 ? -1 : 1, n);
      return round(x, n);
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
