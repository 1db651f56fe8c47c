import { describe, expect, it } from 'vitest';
import { checkFormulaSet, parseFormulaFile } from '../../../../specs/formulas/loader.ts';
import { MAX_DEPTH, validateFormula, validateFormulaSet } from '../../../../specs/formulas/validate.ts';
import { formula } from '../../../support/formulas.ts';

const reads = (id: string, ...others: string[]) =>
  formula({
    id,
    expression: others.length === 0 ? 'a' : others.map((_, i) => `v${i}`).join(' + '),
    variables:
      others.length === 0
        ? { a: { metric: 'power', stat: 'sum' } }
        : Object.fromEntries(others.map((o, i) => [`v${i}`, { formula: o }])),
  });

describe('a formula version', () => {
  it('passes with a metric variable it uses', () => {
    expect(validateFormula(formula({}), new Set(['power']))).toEqual([]);
  });

  it.each([
    [{ scope: 'product', targets: ['c1'] }, 'targets', /has no targets/],
    [{ scope: 'customer', targets: [] }, 'targets', /names the customer ids/],
    [
      { variables: { a: { metric: 'power', stat: 'sum' }, b: { metric: 'power', stat: 'max' } } },
      'variables.b',
      /"b" is not used/,
    ],
    [
      { variables: { sum: { metric: 'power', stat: 'sum' } }, expression: 'sum' },
      'variables.sum',
      /a mathjs function or constant/,
    ],
    [
      { variables: { a: { metric: 'volts', stat: 'sum' } } },
      'variables.a.metric',
      /product p has no metric "volts"/,
    ],
    [{ variables: { a: { formula: 'f' } } }, 'variables.a.formula', /cannot read its own result/],
    [{ expression: 'a.b' }, 'expression', /property or index access/],
    [{ examples: [{ inputs: {}, expect: 1 }] }, 'examples.0.inputs', /no value for variable "a"/],
  ])('refuses %j at %s', (over, path, message) => {
    const issues = validateFormula(formula(over), new Set(['power']));
    expect(issues.map((i) => i.path.join('.'))).toContain(path);
    expect(issues.map((i) => i.message).join(' | ')).toMatch(message);
  });
});

describe('a set of formulas', () => {
  it('refuses a reference to a formula the product does not have', () => {
    const issues = validateFormulaSet([reads('a', 'missing')]);
    expect(issues.map((i) => [i.formula.id, i.path.join('.'), i.message])).toEqual([
      ['a', 'variables.v0.formula', 'product p has no formula "missing"'],
    ]);
  });

  it('refuses a cycle, naming each formula on it, but not one that only reads the cycle', () => {
    const issues = validateFormulaSet([reads('a', 'b'), reads('b', 'c'), reads('c', 'a'), reads('d', 'a')]);
    expect(issues.map((i) => i.formula.id).sort()).toEqual(['a', 'b', 'c']);
    expect(issues[0]!.message).toMatch(/depends on itself/);
  });

  it(`accepts a chain ${MAX_DEPTH} deep and refuses one deeper`, () => {
    const chain = (n: number) =>
      Array.from({ length: n }, (_, i) => (i === n - 1 ? reads(`f${i}`) : reads(`f${i}`, `f${i + 1}`)));
    expect(validateFormulaSet(chain(MAX_DEPTH))).toEqual([]);
    const deep = validateFormulaSet(chain(MAX_DEPTH + 1));
    expect(deep.map((i) => i.formula.id)).toEqual(['f0']);
    expect(deep[0]!.message).toBe(`a chain of ${MAX_DEPTH + 1} formulas; at most ${MAX_DEPTH} deep`);
  });

  it('resolves references within a product only', () => {
    const other = formula({ id: 'b', productId: 'q' });
    expect(validateFormulaSet([reads('a', 'b'), other]).map((i) => i.message)).toEqual([
      'product p has no formula "b"',
    ]);
  });
});

describe('a formula file', () => {
  const file = `formulas:
  - id: cop
    version: 1
    productId: p
    expression: "heat / power"
    variables:
      heat: { metric: heat, stat: sum }
      power: { metric: power, stat: sum }
  - id: bad
    version: 1
    productId: p
    expression: "x = 3"
    variables:
      x: { metric: power, stat: max }
`;

  it('loads the good versions and reports the bad one at its line', () => {
    const { formulas, problems } = parseFormulaFile('f.yaml', file);
    expect(formulas.map((f) => f.formula.id)).toEqual(['cop']);
    expect(formulas[0]!.definition).toMatchObject({ id: 'cop', expression: 'heat / power' });
    expect(problems).toEqual([
      { file: 'f.yaml', line: 12, message: 'formula bad: expression: `x = 3`: assignment is not allowed' },
    ]);
  });

  it('reports a reference to a missing formula at the variable’s line', () => {
    const { formulas } = parseFormulaFile(
      'g.yaml',
      file.replace('heat: { metric: heat, stat: sum }', 'heat: { formula: nowhere }'),
    );
    expect(formulas.map((f) => f.formula.id)).toEqual(['cop']);
    expect(checkFormulaSet(formulas)).toEqual([
      {
        file: 'g.yaml',
        line: 7,
        message: 'formula cop: variables.heat.formula: product p has no formula "nowhere"',
      },
    ]);
  });

  it('refuses a schema error with the key and line', () => {
    const { problems } = parseFormulaFile(
      'h.yaml',
      'formulas:\n  - id: x\n    version: 0\n    productId: p\n    expression: "1"\n',
    );
    expect(problems).toEqual([
      { file: 'h.yaml', line: 3, message: 'formulas.0.version: 0 must be at least 1' },
    ]);
  });
});
