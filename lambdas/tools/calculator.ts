/**
 * The `calculator` built-in: a recursive-descent arithmetic parser and evaluator (no eval, no Function).
 *
 * Grammar (lowest precedence first):
 *   expr     := term (('+' | '-') term)*
 *   term     := unary (('*' | '/' | 'of') unary)*         'of' only right after a percentage: "12.5% of 3480"
 *   unary    := ('-' | '+') unary | power
 *   power    := postfix ('^' unary)?                       right-associative: 2^3^2 = 2^9; -2^2 = -4; 2^-1 = 0.5
 *   postfix  := primary '%'*                               x% = x / 100
 *   primary  := number | constant | func '(' expr (',' expr)* ')' | '(' expr ')'
 *
 * Numbers: 12, 12.5, .5, 5., 1e3, 1.5E-3, and thousands groups outside function calls (3,480). Operators also
 * accept `**` for `^`, `×`/`·` for `*`, `÷` for `/` and `−` for `-`. Functions: sqrt, abs, round(x[, digits]),
 * min, max. Constants: pi, e. Names are case-insensitive.
 *
 * Every failure is a BadRequest whose message names the position (0-based character offset), e.g.
 * "unexpected ')' at 7". Division by zero and non-finite results are BadRequest too. Results are rounded to 12
 * significant digits, so 0.1 + 0.2 gives 0.3.
 *
 * Why a hand-written parser and not an expression library (mathjs, expr-eval): the grammar is deliberately small
 * and bounded (length, depth, no names but these, no assignment, no functions defined by the input), so input from
 * a model cannot reach anything else; every failure is a positioned BadRequest the model can act on; and it bundles
 * in a few KB where a general library brings megabytes and a larger surface to audit.
 */

import { BadRequest } from '../core/errors';
import * as z from '../core/validation';
import { argumentsSchema, errorToResult, invalidArgumentsResult, type Tool, type ToolResult } from './types';

/** Longest expression accepted, in characters. */
export const MAX_EXPRESSION_LENGTH = 1000;
/** Deepest nesting accepted (parentheses, unary signs, powers). */
const MAX_DEPTH = 100;
/** Significant digits kept in results. */
const SIGNIFICANT_DIGITS = 12;

type Token =
  | { kind: 'num'; value: number; text: string; pos: number }
  | { kind: 'op'; value: '+' | '-' | '*' | '/' | '^' | '%' | '(' | ')' | ','; text: string; pos: number }
  | { kind: 'name'; value: string; text: string; pos: number }
  | { kind: 'end'; text: string; pos: number };

const OP_ALIASES: Record<string, '+' | '-' | '*' | '/' | '^' | '%' | '(' | ')' | ','> = {
  '+': '+',
  '-': '-',
  '−': '-',
  '*': '*',
  '×': '*',
  '·': '*',
  '/': '/',
  '÷': '/',
  '^': '^',
  '%': '%',
  '(': '(',
  ')': ')',
  ',': ',',
};

const NUMBER_RE = /(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/y;
/** A number with thousands groups: 3,480 or 1,234,567.89 (only where a comma cannot separate arguments). */
const GROUPED_RE = /\d{1,3}(?:,\d{3})+(?!\d)(?:\.\d*)?(?:[eE][+-]?\d+)?/y;
const NAME_RE = /[A-Za-z_][A-Za-z0-9_]*/y;

function bad(message: string): BadRequest {
  return new BadRequest(message);
}

function describe(tok: Token): string {
  if (tok.kind === 'end') return 'end of expression';
  if (tok.kind === 'num') return `number '${tok.text}'`;
  if (tok.kind === 'name') return `'${tok.text}'`;
  return `'${tok.text}'`;
}

function tokenize(input: string): Token[] {
  const tokens: Token[] = [];
  // Tracks what each open parenthesis belongs to: in a function call a comma separates arguments.
  const parens: Array<'call' | 'group'> = [];
  let i = 0;
  while (i < input.length) {
    const ch = input[i] as string;
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    if (/[0-9.]/.test(ch)) {
      let m: RegExpExecArray | null = null;
      if (parens[parens.length - 1] !== 'call') {
        GROUPED_RE.lastIndex = i;
        m = GROUPED_RE.exec(input);
      }
      if (!m) {
        NUMBER_RE.lastIndex = i;
        m = NUMBER_RE.exec(input);
      }
      if (!m) throw bad(`unexpected '${ch}' at ${i}`);
      const text = m[0];
      tokens.push({ kind: 'num', value: Number(text.replace(/,/g, '')), text, pos: i });
      i += text.length;
      continue;
    }
    if (/[A-Za-z_]/.test(ch)) {
      NAME_RE.lastIndex = i;
      const text = (NAME_RE.exec(input) as RegExpExecArray)[0];
      tokens.push({ kind: 'name', value: text.toLowerCase(), text, pos: i });
      i += text.length;
      continue;
    }
    if (ch === '*' && input[i + 1] === '*') {
      tokens.push({ kind: 'op', value: '^', text: '**', pos: i });
      i += 2;
      continue;
    }
    const op = Object.hasOwn(OP_ALIASES, ch) ? OP_ALIASES[ch] : undefined;
    if (op === undefined) throw bad(`unexpected character '${ch}' at ${i}`);
    if (op === '(') parens.push(tokens[tokens.length - 1]?.kind === 'name' ? 'call' : 'group');
    if (op === ')') parens.pop();
    tokens.push({ kind: 'op', value: op, text: ch, pos: i });
    i++;
  }
  tokens.push({ kind: 'end', text: '', pos: input.length });
  return tokens;
}

interface FunctionDef {
  min: number;
  max: number;
  usage: string;
  apply(args: number[], pos: number): number;
}

const FUNCTIONS: Record<string, FunctionDef> = {
  sqrt: {
    min: 1,
    max: 1,
    usage: 'sqrt(x)',
    apply([x = 0], pos) {
      if (x < 0) throw bad(`sqrt of a negative number (${formatNumber(x)}) at ${pos}`);
      return Math.sqrt(x);
    },
  },
  abs: { min: 1, max: 1, usage: 'abs(x)', apply: ([x = 0]) => Math.abs(x) },
  round: {
    min: 1,
    max: 2,
    usage: 'round(x) or round(x, digits)',
    apply([x = 0, digits = 0], pos) {
      if (!Number.isInteger(digits) || digits < -15 || digits > 15) {
        throw bad(`round digits must be an integer from -15 to 15 (got ${formatNumber(digits)}) at ${pos}`);
      }
      const f = 10 ** digits;
      // Round half away from zero, on the decimal value (1.005 → 1.01), not on its binary approximation.
      const scaled = Number((Math.abs(x) * f).toPrecision(15));
      return (Math.sign(x) * Math.round(scaled)) / f;
    },
  },
  min: { min: 1, max: Number.POSITIVE_INFINITY, usage: 'min(a, b, ...)', apply: (args) => Math.min(...args) },
  max: { min: 1, max: Number.POSITIVE_INFINITY, usage: 'max(a, b, ...)', apply: (args) => Math.max(...args) },
};

const CONSTANTS: Record<string, number> = { pi: Math.PI, e: Math.E };

const KNOWN_NAMES = `functions: ${Object.keys(FUNCTIONS).join(', ')}; constants: ${Object.keys(CONSTANTS).join(', ')}`;

class Parser {
  private index = 0;
  private depth = 0;
  /** True when the operand just parsed ended in '%' (so a following 'of' means multiplication). */
  private lastWasPercent = false;

  constructor(private readonly tokens: Token[]) {}

  parse(): number {
    if (this.peek().kind === 'end') throw bad('empty expression');
    const value = this.expr();
    const tok = this.peek();
    if (tok.kind !== 'end') throw this.unexpected(tok);
    return value;
  }

  /** "unexpected X at N", with a hint when a number follows a percent sign (there is no modulo operator). */
  private unexpected(tok: Token, expected = ''): BadRequest {
    const prev = this.tokens[this.index - 1];
    const hint = tok.kind === 'num' && prev?.kind === 'op' && prev.value === '%' ? ' (% means percent: 50% = 0.5; there is no modulo operator)' : '';
    return bad(`unexpected ${describe(tok)} at ${tok.pos}${expected}${hint}`);
  }

  private peek(): Token {
    return this.tokens[this.index] as Token;
  }

  private next(): Token {
    const tok = this.peek();
    if (tok.kind !== 'end') this.index++;
    return tok;
  }

  private isOp(value: string): boolean {
    const tok = this.peek();
    return tok.kind === 'op' && tok.value === value;
  }

  private enter(pos: number): void {
    if (++this.depth > MAX_DEPTH) throw bad(`expression nested too deeply at ${pos} (at most ${MAX_DEPTH} levels)`);
  }

  private expr(): number {
    let left = this.term();
    for (;;) {
      const tok = this.peek();
      if (tok.kind === 'op' && (tok.value === '+' || tok.value === '-')) {
        this.next();
        const right = this.term();
        left = checked(tok.value === '+' ? left + right : left - right, tok.pos);
      } else {
        return left;
      }
    }
  }

  private term(): number {
    let left = this.unary();
    for (;;) {
      const tok = this.peek();
      if (tok.kind === 'op' && (tok.value === '*' || tok.value === '/')) {
        this.next();
        const right = this.unary();
        if (tok.value === '/' && right === 0) throw bad(`division by zero at ${tok.pos}`);
        left = checked(tok.value === '*' ? left * right : left / right, tok.pos);
      } else if (tok.kind === 'name' && tok.value === 'of') {
        if (!this.lastWasPercent) throw bad(`'of' must follow a percentage (e.g. 12.5% of 3480) at ${tok.pos}`);
        this.next();
        left = checked(left * this.unary(), tok.pos);
      } else {
        return left;
      }
    }
  }

  private unary(): number {
    const tok = this.peek();
    if (tok.kind === 'op' && (tok.value === '-' || tok.value === '+')) {
      this.next();
      this.enter(tok.pos);
      const value = this.unary();
      this.depth--;
      return tok.value === '-' ? -value : value;
    }
    return this.power();
  }

  private power(): number {
    const base = this.postfix();
    const tok = this.peek();
    if (tok.kind === 'op' && tok.value === '^') {
      this.next();
      this.enter(tok.pos);
      const exponent = this.unary(); // right-associative; allows 2^-1
      this.depth--;
      this.lastWasPercent = false;
      const value = base ** exponent;
      if (Number.isNaN(value)) {
        const b = base < 0 ? `(${formatNumber(base)})` : formatNumber(base);
        throw bad(`${b}^${formatNumber(exponent)} is not a real number (at ${tok.pos})`);
      }
      if (base === 0 && exponent < 0) throw bad(`division by zero (0 to a negative power) at ${tok.pos}`);
      return checked(value, tok.pos);
    }
    return base;
  }

  private postfix(): number {
    let value = this.primary();
    this.lastWasPercent = false;
    while (this.isOp('%')) {
      this.next();
      value /= 100;
      this.lastWasPercent = true;
    }
    return value;
  }

  private primary(): number {
    const tok = this.next();
    if (tok.kind === 'num') {
      if (!Number.isFinite(tok.value)) throw bad(`number '${tok.text}' is too large at ${tok.pos}`);
      return tok.value;
    }
    if (tok.kind === 'op' && tok.value === '(') {
      this.enter(tok.pos);
      const value = this.expr();
      this.expect(')', tok);
      this.depth--;
      return value;
    }
    if (tok.kind === 'name') return this.name(tok);
    throw bad(`unexpected ${describe(tok)} at ${tok.pos}`);
  }

  private name(tok: Extract<Token, { kind: 'name' }>): number {
    // Own keys only: a name like __proto__ or constructor must not reach Object.prototype.
    const constant = Object.hasOwn(CONSTANTS, tok.value) ? CONSTANTS[tok.value] : undefined;
    if (constant !== undefined) {
      if (this.isOp('(')) throw bad(`${tok.text} is a constant, not a function (at ${tok.pos})`);
      return constant;
    }
    const fn = Object.hasOwn(FUNCTIONS, tok.value) ? FUNCTIONS[tok.value] : undefined;
    if (fn === undefined) {
      if (tok.value === 'of') throw bad(`'of' must follow a percentage (e.g. 12.5% of 3480) at ${tok.pos}`);
      throw bad(`unknown name '${tok.text}' at ${tok.pos} (${KNOWN_NAMES})`);
    }
    const open = this.peek();
    if (!(open.kind === 'op' && open.value === '(')) throw bad(`expected '(' after ${tok.text} at ${open.pos}`);
    this.next();
    this.enter(open.pos);
    const args: number[] = [];
    if (!this.isOp(')')) {
      args.push(this.expr());
      while (this.isOp(',')) {
        this.next();
        args.push(this.expr());
      }
    }
    this.expect(')', open);
    this.depth--;
    if (args.length < fn.min || args.length > fn.max) {
      const n = args.length;
      throw bad(`${tok.value} takes ${fn.usage}, got ${n} argument${n === 1 ? '' : 's'} (at ${tok.pos})`);
    }
    return checked(fn.apply(args, tok.pos), tok.pos);
  }

  private expect(value: ')', open: Token): void {
    const tok = this.peek();
    if (tok.kind === 'op' && tok.value === value) {
      this.next();
      return;
    }
    if (tok.kind === 'end') throw bad(`missing ')' for '(' at ${open.pos} (reached end of expression at ${tok.pos})`);
    throw this.unexpected(tok, " (expected ')')");
  }
}

function checked(value: number, pos: number): number {
  if (Number.isNaN(value)) throw bad(`result is not a number at ${pos}`);
  if (!Number.isFinite(value)) throw bad(`result is too large (not finite) at ${pos}`);
  return value;
}

/** Rounds to 12 significant digits (removes float noise: 0.1 + 0.2 → 0.3) and turns -0 into 0. */
export function roundSignificant(value: number, digits = SIGNIFICANT_DIGITS): number {
  if (value === 0 || !Number.isFinite(value)) return value === 0 ? 0 : value;
  const rounded = Number(value.toPrecision(digits));
  return rounded === 0 ? 0 : rounded;
}

/** Formats a result for people and models: no float noise, plain notation for everyday magnitudes. */
export function formatNumber(value: number): string {
  const v = roundSignificant(value);
  const abs = Math.abs(v);
  if (abs !== 0 && (abs >= 1e21 || abs < 1e-7)) return v.toPrecision(SIGNIFICANT_DIGITS).replace(/\.?0+e/, 'e');
  return String(v);
}

/**
 * Evaluates an arithmetic expression. Throws BadRequest (with the 0-based position) for bad input, division by
 * zero and non-finite results. The result is rounded to 12 significant digits.
 */
export function evaluate(expr: string): number {
  if (typeof expr !== 'string') throw bad('expression must be a string');
  if (expr.length > MAX_EXPRESSION_LENGTH) {
    throw bad(`expression is too long (${expr.length} characters; at most ${MAX_EXPRESSION_LENGTH})`);
  }
  const value = new Parser(tokenize(expr)).parse();
  return roundSignificant(checked(value, 0));
}

export const CalculatorArgs = z.object({
  expression: z
    .string()
    .check(
      z.minLength(1, 'must not be empty'),
      z.maxLength(MAX_EXPRESSION_LENGTH, `at most ${MAX_EXPRESSION_LENGTH} characters`),
      z.describe('The expression, e.g. "12.5% of 3480" or "(17 + 5) / 4".'),
    ),
});

const ARGUMENTS = argumentsSchema(CalculatorArgs, `e.g. "(2 + 3) * 4 ^ 2", "sqrt(2) * pi"; operators + - * / ^ ( ) and postfix % (percent), ${KNOWN_NAMES}`);

export const calculatorTool: Tool = {
  spec: {
    name: 'calculator',
    description:
      'Evaluates an arithmetic expression exactly and returns the number. Supports + - * / ^ (power), parentheses, ' +
      'postfix % (percent: "12.5% of 3480"), sqrt, abs, round(x[, digits]), min, max, pi and e.',
    get parameters() {
      return ARGUMENTS.parameters;
    },
  },
  async run(args: unknown): Promise<ToolResult> {
    const parsed = CalculatorArgs.safeParse(args);
    if (!parsed.success) return invalidArgumentsResult('calculator', parsed.error, ARGUMENTS.allowed);
    const { expression } = parsed.data;
    try {
      const value = evaluate(expression);
      return { content: formatNumber(value), data: { expression, value } };
    } catch (err) {
      return errorToResult('calculator', err);
    }
  },
};
