/**
 * Arithmetic over a reading's metrics, as rule authors write it (`(supply - return) * 4.18`,
 * `abs(phase_a - phase_b)`, `max(t1, t2)`), parsed into a small tree. The tree is all the compiler
 * and the checks see: user text is never evaluated. Grammar:
 *
 *   expr   := term (('+' | '-') term)*
 *   term   := unary (('*' | '/') unary)*
 *   unary  := '-' unary | atom
 *   atom   := number | metric | fn '(' expr (',' expr)* ')' | '(' expr ')'
 *   fn     := abs (one argument) | min | max (two or more)
 */

/** A node of an expression tree. */
export type Expr =
  | { readonly type: 'number'; readonly value: number }
  | { readonly type: 'metric'; readonly name: string }
  | { readonly type: 'negate'; readonly arg: Expr }
  | { readonly type: 'binary'; readonly op: '+' | '-' | '*' | '/'; readonly left: Expr; readonly right: Expr }
  | { readonly type: 'call'; readonly fn: 'abs' | 'min' | 'max'; readonly args: readonly Expr[] };

/** Why a text is not an expression. */
export class ExpressionError extends Error {}

type Token =
  | { kind: 'number'; value: number }
  | { kind: 'name'; value: string }
  | { kind: 'punct'; value: string };

const TOKEN =
  /\s*(?:(\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|([A-Za-z_][A-Za-z0-9_]*)|([-+*/(),]))/y;

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < text.length) {
    if (/^\s*$/.test(text.slice(TOKEN.lastIndex))) break;
    const at = TOKEN.lastIndex;
    const match = TOKEN.exec(text);
    if (!match) throw new ExpressionError(`unexpected "${text.slice(at).trimStart()[0]}" at ${at + 1}`);
    if (match[1] !== undefined) tokens.push({ kind: 'number', value: Number(match[1]) });
    else if (match[2] !== undefined) tokens.push({ kind: 'name', value: match[2] });
    else tokens.push({ kind: 'punct', value: match[3]! });
  }
  return tokens;
}

const FUNCTIONS = new Set(['abs', 'min', 'max']);

/** Parses an expression text; throws `ExpressionError` with the reason. */
export function parseExpression(text: string): Expr {
  const tokens = tokenize(text);
  let i = 0;
  const peek = (): Token | undefined => tokens[i];
  const isPunct = (value: string): boolean => peek()?.kind === 'punct' && peek()!.value === value;
  const expect = (value: string): void => {
    if (!isPunct(value)) throw new ExpressionError(`expected "${value}"${found()}`);
    i++;
  };
  const found = (): string => {
    const t = peek();
    return t === undefined ? ' at the end' : `, found "${t.value}"`;
  };

  function expr(): Expr {
    let left = term();
    while (isPunct('+') || isPunct('-')) {
      const op = tokens[i++]!.value as '+' | '-';
      left = { type: 'binary', op, left, right: term() };
    }
    return left;
  }
  function term(): Expr {
    let left = unary();
    while (isPunct('*') || isPunct('/')) {
      const op = tokens[i++]!.value as '*' | '/';
      left = { type: 'binary', op, left, right: unary() };
    }
    return left;
  }
  function unary(): Expr {
    if (isPunct('-')) {
      i++;
      return { type: 'negate', arg: unary() };
    }
    return atom();
  }
  function atom(): Expr {
    const t = peek();
    if (t === undefined) throw new ExpressionError('unexpected end of expression');
    if (t.kind === 'number') {
      i++;
      if (!Number.isFinite(t.value)) throw new ExpressionError(`${t.value} is not a finite number`);
      return { type: 'number', value: t.value };
    }
    if (t.kind === 'name') {
      i++;
      if (!isPunct('(')) return { type: 'metric', name: t.value };
      if (!FUNCTIONS.has(t.value)) throw new ExpressionError(`unknown function "${t.value}" (abs, min, max)`);
      i++;
      const args = [expr()];
      while (isPunct(',')) {
        i++;
        args.push(expr());
      }
      expect(')');
      const fn = t.value as 'abs' | 'min' | 'max';
      if (fn === 'abs' && args.length !== 1) throw new ExpressionError('abs takes one argument');
      if (fn !== 'abs' && args.length < 2) throw new ExpressionError(`${fn} takes two or more arguments`);
      return { type: 'call', fn, args };
    }
    if (t.value === '(') {
      i++;
      const inner = expr();
      expect(')');
      return inner;
    }
    throw new ExpressionError(`unexpected "${t.value}"`);
  }

  const tree = expr();
  if (i < tokens.length) throw new ExpressionError(`unexpected "${tokens[i]!.value}" after the expression`);
  return tree;
}

/** The metric names an expression reads, each once. */
export function metricsOf(expr: Expr, into: Set<string> = new Set()): Set<string> {
  switch (expr.type) {
    case 'metric':
      into.add(expr.name);
      break;
    case 'negate':
      metricsOf(expr.arg, into);
      break;
    case 'binary':
      metricsOf(expr.left, into);
      metricsOf(expr.right, into);
      break;
    case 'call':
      for (const arg of expr.args) metricsOf(arg, into);
      break;
    default:
      break;
  }
  return into;
}
