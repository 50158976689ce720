import { BadRequest } from '../../../lambdas/core/errors';
import { calculatorTool, evaluate, formatNumber } from '../../../lambdas/tools/calculator';

const ctx = { runId: 'r1', step: 1, toolCallId: 'c1', idempotencyKey: 'k1' };

describe('evaluate', () => {
  const cases: Array<[string, number]> = [
    ['1 + 2', 3],
    ['2 + 3 * 4', 14],
    ['(2 + 3) * 4', 20],
    ['10 - 4 - 3', 3],
    ['100 / 10 / 5', 2],
    ['2 ^ 3 ^ 2', 512], // right-associative
    ['-2 ^ 2', -4], // unary minus binds looser than power
    ['(-2) ^ 2', 4],
    ['2 ^ -1', 0.5],
    ['--3', 3],
    ['+-+4', -4],
    ['3.5', 3.5],
    ['.5 + .25', 0.75],
    ['5.', 5],
    ['1e3', 1000],
    ['1.5E-3 * 2', 0.003],
    ['.5e2', 50],
    ['0.1 + 0.2', 0.3],
    ['0.3 - 0.1', 0.2],
    ['1.1 * 1.1', 1.21],
    ['12.5% * 3480', 435],
    ['12.5% of 3480', 435],
    ['-12.5% of 3480', -435],
    ['50%', 0.5],
    ['200 * 15%', 30],
    ['sqrt(16) + abs(-3)', 7],
    ['sqrt(2) ^ 2', 2],
    ['round(2.5)', 3],
    ['round(-2.5)', -3],
    ['round(1.005, 2)', 1.01],
    ['round(1234, -2)', 1200],
    ['min(3, 1, 2)', 1],
    ['max(3, 1, 2, -7)', 3],
    ['max(1)', 1],
    ['pi', Number(Math.PI.toPrecision(12))],
    ['2 * PI', Number((2 * Math.PI).toPrecision(12))],
    ['e', Number(Math.E.toPrecision(12))],
    ['3,480 * 2', 6960],
    ['1,234,567.5 + 0.5', 1234568],
    ['2 ** 10', 1024],
    ['3 × 4 ÷ 2 − 1', 5],
    ['  ( ( 1 ) )  ', 1],
    ['1e-9 * 1e-9', 1e-18],
    ['0 * -1', 0],
  ];
  test.each(cases)('%s = %p', (expr, expected) => {
    expect(evaluate(expr)).toBe(expected);
  });

  test('-0 is reported as 0', () => {
    expect(Object.is(evaluate('0 * -1'), 0)).toBe(true);
  });

  const errors: Array<[string, RegExp]> = [
    ['(1 + 2))', /unexpected '\)' at 7/],
    ['1 +', /unexpected end of expression at 3/],
    ['(1 + 2', /missing '\)' for '\(' at 0/],
    ['', /empty expression/],
    ['   ', /empty expression/],
    ['1 / 0', /division by zero at 2/],
    ['1 / (2 - 2)', /division by zero/],
    ['0 ^ -1', /division by zero/],
    ['10 ^ 400', /not finite/],
    ['1e999', /too large/],
    ['sqrt(-4)', /sqrt of a negative number/],
    ['(-8) ^ (1/3)', /not a real number/],
    ['2 of 3', /'of' must follow a percentage/],
    ['of 3', /'of' must follow a percentage/],
    ['foo(2)', /unknown name 'foo' at 0/],
    ['x + 1', /unknown name 'x' at 0/],
    ['sqrt 4', /expected '\(' after sqrt at 5/],
    ['sqrt(1, 2)', /sqrt takes sqrt\(x\), got 2 arguments/],
    ['max()', /got 0 arguments/],
    ['pi(2)', /constant, not a function/],
    ['round(1.5, 0.5)', /round digits must be an integer/],
    ['2 $ 3', /unexpected character '\$' at 2/],
    ['1.2.3', /unexpected number '\.3' at 3/],
    ['10 % 3', /unexpected number '3' at 5.*no modulo/],
    ['max(1,,2)', /unexpected ',' at 6/],
    ['*3', /unexpected '\*' at 0/],
    ['2 3', /unexpected number '3' at 2/],
    ['1,2', /unexpected ',' at 1/],
    ['('.repeat(150) + '1' + ')'.repeat(150), /nested too deeply/],
    ['-'.repeat(150) + '1', /nested too deeply/],
    ['1+'.repeat(600) + '1', /too long/],
  ];
  test.each(errors)('%j → BadRequest %p', (expr, message) => {
    let caught: unknown;
    try {
      evaluate(expr);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(BadRequest);
    expect((caught as Error).name).toBe('BadRequest');
    expect((caught as Error).message).toMatch(message);
  });

  test('never uses eval: injection attempts are parse errors', () => {
    expect(() => evaluate('process.exit(1)')).toThrow(BadRequest);
    expect(() => evaluate('constructor.constructor("return 1")()')).toThrow(BadRequest);
    expect(() => evaluate('__proto__')).toThrow(/unknown name/);
    expect(() => evaluate('constructor(1)')).toThrow(/unknown name/);
    expect(() => evaluate('toString(1)')).toThrow(/unknown name/);
  });
});

describe('formatNumber', () => {
  test.each([
    [0.1 + 0.2, '0.3'],
    [435, '435'],
    [1 / 3, '0.333333333333'],
    [-0, '0'],
    [1e21, '1e+21'],
    [1.5e-8, '1.5e-8'],
    [123456789012345, '123456789012000'],
  ])('%p → %s', (value, text) => {
    expect(formatNumber(value)).toBe(text);
  });
});

describe('calculatorTool', () => {
  test('spec', () => {
    expect(calculatorTool.spec.name).toBe('calculator');
    expect(calculatorTool.spec.parameters).toMatchObject({ required: ['expression'] });
  });

  test('returns the formatted result', async () => {
    const result = await calculatorTool.run({ expression: '12.5% of 3480' }, ctx);
    expect(result).toEqual({ content: '435', data: { expression: '12.5% of 3480', value: 435 } });
  });

  test('a parse error is an isError result with the position', async () => {
    const result = await calculatorTool.run({ expression: '(1 + 2))' }, ctx);
    expect(result.isError).toBe(true);
    expect(result.content).toContain("unexpected ')' at 7");
  });

  test('bad arguments say what is allowed', async () => {
    for (const args of [{}, { expression: 42 }, null, 'text', { expression: '' }]) {
      const result = await calculatorTool.run(args, ctx);
      expect(result.isError).toBe(true);
      expect(result.content).toMatch(/invalid arguments for calculator/);
      expect(result.content).toContain('{"expression": string}');
    }
  });
});
