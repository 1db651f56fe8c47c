import { all, create } from 'mathjs';
import { describe, expect, it } from 'vitest';
import { checkExpression, MAX_EXPRESSION_LENGTH } from '../../../../specs/formulas/expression.ts';
import { parseFormula } from '../../../../specs/formulas/math.ts';

const declared = new Set(['a', 'b', 'x']);
const problemsOf = (expression: string) =>
  checkExpression(expression, declared).problems.map((p) => p.message);

/**
 * Payloads of the mathjs security reports (josdejong/mathjs #821, #822, the 2024 and 2026 advisories)
 * and the list: each is refused when the formula is saved, with its reason.
 */
const EXPLOITS: readonly [string, RegExp][] = [
  [
    '["//","a/*\\nreturn process.mainModule.require"]._data.map(cos.constructor)[1]()("child_process").execSync("ps")',
    /not allowed/,
  ],
  ['import({matrix:cos.constructor},{override:1});x=["process.exit()"];x()', /not allowed/],
  ['a=["x"]._data;a.isRange=true;x={subset:cos.constructor}[a];x()', /not allowed/],
  ['{}.constructor.assign(cos.constructor, {binding: cos.bind})', /not allowed/],
  ['cos.constructor("return process")()', /not (allowed|an expression)/],
  ['f=cos.constructor; f("return process")()', /not (allowed|an expression)/],
  ['"".constructor', /property or index access is not allowed/],
  ['reviver("{}")', /the function "reviver" is not allowed/],
  ['zeros(5000,5000)', /the function "zeros" is not allowed/],
  ['ones(1e6)', /the function "ones" is not allowed/],
  ['f(x)=x', /defining a function is not allowed/],
  ['x=3', /assignment is not allowed/],
  ['a.b', /property or index access is not allowed/],
  ['a[1]', /property or index access is not allowed/],
  ['[1,2]', /matrices and lists are not allowed/],
  ['import({}, {override: true})', /the function "import" is not allowed/],
  ['createUnit("foo")', /the function "createUnit" is not allowed/],
  ['evaluate("1+1")', /the function "evaluate" is not allowed/],
  ['parse("1")', /the function "parse" is not allowed/],
  ['simplify("x")', /the function "simplify" is not allowed/],
  ['{a: 1}', /objects are not allowed/],
  ['1:1000000', /ranges are not allowed/],
  ['170!', /the operator "!" \(factorial\) is not allowed/],
  ["a'", /the operator "'" \(ctranspose\) is not allowed/],
  ['5 cm', /unknown variable "cm"/],
  ['a to b', /the operator "to"/],
  ['"text"', /a string constant is not allowed/],
  ['q + 1', /unknown variable "q"/],
  ['a; b', /more than one expression is not allowed/],
  ['a +', /not an expression: .*char/],
];

describe('the expression allowlist', () => {
  it.each(EXPLOITS)('refuses %s', (expression, reason) => {
    const problems = problemsOf(expression);
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.join(' | ')).toMatch(reason);
  });

  it('refuses an expression longer than the limit before parsing it', () => {
    const long = `${'a+'.repeat(5_000)}1`;
    expect(long.length).toBe(10_001);
    expect(problemsOf(long)).toEqual([
      `10001 characters; an expression has at most ${MAX_EXPRESSION_LENGTH}`,
    ]);
  });

  it('names the offending node among allowed ones', () => {
    expect(problemsOf('max(a, b) / (x + zeros(3))')).toEqual([
      expect.stringMatching(/^`zeros\(3\)`: the function "zeros" is not allowed/),
    ]);
  });

  it.each([
    ['a / b * 100', 50],
    ['a > 1 ? b : 0', 4],
    ['max(a, b, x) - min(a, b)', 3],
    ['a < b < x', 1],
    ['round(sqrt(a^2 + b^2), 3)', 4.472],
    ['a % 3 + mod(b, 3) + (not (a == b) and true)', 4],
    ['pi * 0 + e * 0 + hypot(3, 4) + atan2(0, 1) + log(e) + log10(100) + abs(-x)', 13],
  ])('accepts %s, which evaluates to a number', (expression, expected) => {
    const { problems, used } = checkExpression(expression, declared);
    expect(problems).toEqual([]);
    expect(used.size).toBeGreaterThan(0);
    const value = parseFormula(expression).compile().evaluate({ a: 2, b: 4, x: 5 });
    expect(Number(value)).toBeCloseTo(expected, 9);
  });

  it('reports the variables an expression uses', () => {
    expect([...checkExpression('a * 2 + pi', declared).used]).toEqual(['a']);
  });
});

describe('the formula instance of mathjs', () => {
  it('gives NaN, not a complex number, for the root of a negative', () => {
    expect(parseFormula('sqrt(-1)').compile().evaluate({})).toBeNaN();
    expect(parseFormula('(-8)^0.5').compile().evaluate({})).toBeNaN();
    expect(parseFormula('log(-1)').compile().evaluate({})).toBeNaN();
  });

  it('has its own parser functions disabled (the second wall)', () => {
    // reachable only if the allowlist failed: a compiled call of them throws
    expect(() => parseFormula('import({}, {})').compile().evaluate({})).toThrow(
      /import is disabled in formulas/,
    );
    expect(() => parseFormula('evaluate("1")').compile().evaluate({})).toThrow(
      /evaluate is disabled in formulas/,
    );
    expect(() => parseFormula('createUnit("x")').compile().evaluate({})).toThrow(
      /createUnit is disabled in formulas/,
    );
  });
});

describe('the functions the formula instance answers itself', () => {
  const plain = create(all!, { number: 'number', predictable: true });
  const values = [
    0,
    1.3,
    -1.7,
    2.5,
    -2.5,
    1.005,
    7.999999999999999,
    1e-300,
    -1e-300,
    5e-324,
    1e15 + 0.5,
    9e-17,
    -9e-17,
    4e-16,
  ];
  values.push(2 ** 53, -(2 ** 53) - 2, 1.7976931348623157e308, -1.7976931348623157e308, Number.NaN);
  const expressions = [
    'floor(x)',
    'ceil(x)',
    'fix(x)',
    'round(x)',
    'round(x, 2)',
    'floor(x, 3)',
    'x % y',
    'mod(x, y)',
  ];
  expressions.push('x and y', 'x or y', '(x > 1) and true', 'floor((0.7 + 0.1) * 10)');

  it('gives what mathjs gives, on ordinary, huge, tiny and near-integer values', () => {
    for (const expression of expressions) {
      const compiled = parseFormula(expression).compile();
      for (const x of values)
        for (const y of [3, -0.4, 0, 1e-300])
          expect(
            Object.is(compiled.evaluate({ x, y }), plain.evaluate(expression, { x, y })),
            `${expression} at ${x}, ${y}`,
          ).toBe(true);
    }
  });

  it('gives what mathjs gives on 20,000 values near integers, halves and powers of ten', () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 16807) % 2147483647;
      return seed / 2147483647;
    };
    const compiled = ['floor(x)', 'ceil(x)', 'fix(x)', 'x % y', 'floor(x, 2)', 'ceil(x, 1)'].map(
      (e) => [e, parseFormula(e).compile()] as const,
    );
    for (let i = 0; i < 20_000; i++) {
      const k = Math.round((random() - 0.5) * 10 ** Math.floor(random() * 17));
      const offsets = [0, 0.5, 1e-13, -1e-13, 1e-10, 3e-12 * k, (random() - 0.5) * 1e-11];
      const x = (k + offsets[i % offsets.length]!) * (i % 3 === 0 ? 0.1 : 1);
      const y = [3, 0.1, -7, 1e-5][i % 4]!;
      for (const [expression, c] of compiled)
        expect(
          Object.is(c.evaluate({ x, y }), plain.evaluate(expression, { x, y })),
          `${expression} at ${x}, ${y}`,
        ).toBe(true);
    }
  });

  it('keeps mathjs’s tolerance near integers', () => {
    expect(parseFormula('floor((0.7 + 0.1) * 10)').compile().evaluate({})).toBe(8);
  });
});
