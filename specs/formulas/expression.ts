/**
 * A formula's expression, checked when it is saved: parsed by mathjs (`math.ts`) and its tree
 * walked against an allowlist. Allowed: numbers and `true`/`false`, the formula's declared
 * variables, `pi` and `e`, arithmetic, comparison and logical operators, parentheses, `a ? b : c`,
 * and calls of the scalar functions in `FUNCTIONS`. Everything else is refused with the node that
 * is not allowed: assignments, function definitions, property and index access, matrices and
 * objects, strings, units, ranges, `!` and `'`, and every other function (`import`, `createUnit`,
 * `evaluate`, `parse`, `zeros`…). Every value an accepted tree can make is a number or a boolean, so
 * an evaluation allocates next to nothing and takes time in proportion to the expression's length,
 * which is capped (`MAX_EXPRESSION_LENGTH`).
 */
import { isMathName, type MathNode, parseFormula } from './math.ts';

/** Characters an expression may have (AWS IoT SiteWise's limit for its metric expressions). */
export const MAX_EXPRESSION_LENGTH = 1024;

/** The scalar functions a formula may call. */
export const FUNCTIONS: ReadonlySet<string> = new Set([
  'abs',
  'ceil',
  'floor',
  'round',
  'fix',
  'sign',
  'sqrt',
  'cbrt',
  'exp',
  'expm1',
  'log',
  'log10',
  'log2',
  'log1p',
  'pow',
  'mod',
  'hypot',
  'min',
  'max',
  'sin',
  'cos',
  'tan',
  'asin',
  'acos',
  'atan',
  'atan2',
]);

/** The operators a formula may use (mathjs's names for them). */
const OPERATORS: ReadonlySet<string> = new Set([
  'add',
  'subtract',
  'multiply',
  'divide',
  'unaryMinus',
  'unaryPlus',
  'pow',
  'mod',
  'larger',
  'smaller',
  'largerEq',
  'smallerEq',
  'equal',
  'unequal',
  'and',
  'or',
  'xor',
  'not',
]);

/** Names an expression may use without declaring them. */
const CONSTANTS: ReadonlySet<string> = new Set(['pi', 'e']);

/** Calls that deserve their own words when refused. */
const REASONS: Readonly<Record<string, string>> = {
  AccessorNode: 'property or index access is not allowed',
  IndexNode: 'property or index access is not allowed',
  AssignmentNode: 'assignment is not allowed',
  FunctionAssignmentNode: 'defining a function is not allowed',
  ArrayNode: 'matrices and lists are not allowed',
  ObjectNode: 'objects are not allowed',
  BlockNode: 'more than one expression is not allowed',
  RangeNode: 'ranges are not allowed',
};

/** What was refused, and the text of the node that was. */
export interface ExpressionProblem {
  readonly message: string;
}

/** A variable name a formula may declare: an identifier mathjs does not define. */
export function variableNameProblem(name: string): string | undefined {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
    return `variable "${name}": letters, digits and _, not starting with a digit`;
  if (isMathName(name)) return `variable "${name}": a mathjs function or constant; choose another name`;
  return undefined;
}

function describe(node: MathNode): string {
  const text = node.toString();
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/**
 * The problems of `expression` with the variables `declared` (empty when it is allowed), and the
 * variables it uses. A syntax error is one problem naming the character.
 */
export function checkExpression(
  expression: string,
  declared: ReadonlySet<string>,
): { problems: ExpressionProblem[]; used: Set<string> } {
  const used = new Set<string>();
  if (expression.length > MAX_EXPRESSION_LENGTH)
    return {
      problems: [
        { message: `${expression.length} characters; an expression has at most ${MAX_EXPRESSION_LENGTH}` },
      ],
      used,
    };
  let root: MathNode;
  try {
    root = parseFormula(expression);
  } catch (error) {
    return { problems: [{ message: `not an expression: ${(error as Error).message}` }], used };
  }
  const problems: ExpressionProblem[] = [];
  const refuse = (node: MathNode, why: string) => problems.push({ message: `\`${describe(node)}\`: ${why}` });
  const visit = (node: MathNode): void => {
    const n = node as MathNode & Record<string, unknown>;
    switch (node.type) {
      case 'ConstantNode': {
        const t = typeof n.value;
        if (t !== 'number' && t !== 'boolean') refuse(node, `a ${t} constant is not allowed (numbers only)`);
        return;
      }
      case 'SymbolNode': {
        const name = n.name as string;
        if (declared.has(name)) used.add(name);
        else if (!CONSTANTS.has(name))
          refuse(node, `unknown variable "${name}" (declare it under variables)`);
        return;
      }
      case 'ParenthesisNode':
        visit(n.content as MathNode);
        return;
      case 'ConditionalNode':
        for (const part of [n.condition, n.trueExpr, n.falseExpr]) visit(part as MathNode);
        return;
      case 'RelationalNode':
        for (const p of n.params as MathNode[]) visit(p);
        return;
      case 'OperatorNode': {
        const fn = n.fn as string;
        if (!OPERATORS.has(fn)) {
          refuse(node, `the operator "${n.op as string}" (${fn}) is not allowed`);
          return;
        }
        for (const a of n.args as MathNode[]) visit(a);
        return;
      }
      case 'FunctionNode': {
        const fn = n.fn as MathNode & { name?: string };
        if (fn.type !== 'SymbolNode' || fn.name === undefined) {
          refuse(node, 'calling the result of an expression is not allowed');
          return;
        }
        if (!FUNCTIONS.has(fn.name)) {
          refuse(node, `the function "${fn.name}" is not allowed (allowed: ${[...FUNCTIONS].join(', ')})`);
          return;
        }
        for (const a of n.args as MathNode[]) visit(a);
        return;
      }
      default:
        refuse(node, REASONS[node.type] ?? `${node.type} is not allowed`);
    }
  };
  visit(root);
  return { problems, used };
}
