import { checkExpectations, type Observed, parseSuite, runPool, SuiteError, subsetMismatch } from '../../../lambdas/core/eval';

const line = (o: unknown) => JSON.stringify(o);
const observed = (over: Partial<Observed> = {}): Observed => ({
  status: 'SUCCEEDED',
  answer: '6 * 7 = 42.',
  steps: 2,
  usage: { inputTokens: 500, outputTokens: 20, costUsd: 0.001 },
  toolsCalled: ['calculator'],
  fixtureMisses: [],
  ...over,
});
describe('parseSuite', () => {
  it('reads one case a line, skipping blank lines, and numbers cases without an id by their line', () => {
    const cases = parseSuite([line({ id: 'mul', input: 'What is 6 * 7?', expect: { contains: '42' } }), '', line({ input: 'Hi', expect: {} })].join('\n'));
    expect(cases.map((c) => c.id)).toEqual(['mul', 'line-3']);
  });

  it('names the line, the field and what is allowed for an unknown field, bad JSON, a bad value and a missing input', () => {
    const text = [
      line({ input: 'a', expect: { contians: 'x' } }),
      '{"input": ',
      line({ input: 'b', expect: { status: 'DONE' } }),
      line({ expect: {} }),
      line({ input: 'c', expect: {}, budget: {} }),
      line({ input: 'd', expect: { regex: '(' } }),
      line({ input: 'e', outputSchema: { type: 'nope' }, expect: {} }),
    ].join('\n');
    const err = (() => {
      try {
        parseSuite(text, 'suite.jsonl');
      } catch (e) {
        return e as Error;
      }
      throw new Error('no error');
    })();
    expect(err).toBeInstanceOf(SuiteError);
    expect(err.message).toContain(
      'suite.jsonl line 1: expect: unknown field(s) "contians"; allowed: status, contains, notContains, regex, output, toolsCalled, toolsNotCalled, maxSteps, maxCostUsd, maxTokens, judge',
    );
    expect(err.message).toContain('suite.jsonl line 2: not JSON');
    expect(err.message).toMatch(/suite\.jsonl line 3: expect\.status: .*"SUCCEEDED"/);
    expect(err.message).toContain('suite.jsonl line 4: input: required');
    expect(err.message).toContain('suite.jsonl line 5: the case: unknown field(s) "budget"; allowed: id, input, budgets, outputSchema, fixtures, reference, expect');
    expect(err.message).toContain('suite.jsonl line 6: expect.regex: not a valid regular expression');
    expect(err.message).toContain('suite.jsonl line 7: outputSchema: is not a valid JSON Schema');
  });

  it('refuses a duplicate id naming both lines, and an empty suite', () => {
    expect(() => parseSuite([line({ id: 'a', input: 'x', expect: {} }), line({ id: 'a', input: 'y', expect: {} })].join('\n'))).toThrow('line 2: id "a" is already used on line 1');
    expect(() => parseSuite('\n\n')).toThrow('has no cases');
  });
});

describe('checkExpectations', () => {
  it('passes a run that meets every expectation', () => {
    const expectations = {
      status: 'SUCCEEDED',
      contains: ['42', '6 * 7'],
      notContains: 'sorry',
      regex: '= \\d+\\.$',
      toolsCalled: ['calculator'],
      toolsNotCalled: ['search_docs'],
      maxSteps: 2,
      maxTokens: 520,
      maxCostUsd: 0.001,
    };
    expect(checkExpectations(expectations, observed())).toEqual([]);
  });

  it('names every expectation the run misses', () => {
    const failures = checkExpectations(
      {
        status: 'UNFINISHED',
        contains: 'five',
        notContains: '42',
        regex: '^no',
        toolsCalled: ['search_docs'],
        toolsNotCalled: ['calculator'],
        maxSteps: 1,
        maxTokens: 10,
        maxCostUsd: 0.0001,
      },
      observed(),
    );
    expect(failures.map((f) => f.expectation)).toEqual(['status', 'contains', 'notContains', 'regex', 'toolsCalled', 'toolsNotCalled', 'maxSteps', 'maxTokens', 'maxCostUsd']);
    expect(failures[0]?.message).toBe('expected UNFINISHED, got SUCCEEDED');
    expect(failures[1]?.message).toContain('does not contain "five"');
  });

  it('matches expect.output as a subset of the run’s output, and fails clearly when the run has none', () => {
    const run = observed({ output: { city: 'Paris', country: { code: 'FR', name: 'France' }, tags: ['a', 'b'] } });
    expect(checkExpectations({ output: { country: { code: 'FR' }, tags: ['a', 'b'] } }, run)).toEqual([]);
    expect(checkExpectations({ output: { country: { code: 'DE' } } }, run)).toEqual([{ expectation: 'output', message: 'output.country.code: expected "DE", got "FR"' }]);
    expect(checkExpectations({ output: { city: 'Paris' } }, observed())[0]?.message).toContain('the run has no structured output');
    expect(subsetMismatch({ a: [1] }, { a: [1, 2] }, 'output')).toBe('output.a: expected 1 item(s), got 2');
    expect(subsetMismatch({ a: 1 }, {}, 'output')).toBe('output.a: missing');
  });

  it('reports calls without a fixture and a run that could not be made', () => {
    const failures = checkExpectations({}, observed({ fixtureMisses: ['calculator({"expression":"1+1"})'], error: 'the execution failed: X' }));
    expect(failures).toEqual([
      { expectation: 'run', message: 'the execution failed: X' },
      { expectation: 'fixtures', message: 'no fixture for the tool call calculator({"expression":"1+1"})' },
    ]);
  });
});

it('runPool runs at most N at once and keeps the order', async () => {
  let live = 0;
  let peak = 0;
  const out = await runPool([1, 2, 3, 4, 5], 2, async (n) => {
    live++;
    peak = Math.max(peak, live);
    await new Promise((r) => setImmediate(r));
    live--;
    return n * 10;
  });
  expect(out).toEqual([10, 20, 30, 40, 50]);
  expect(peak).toBe(2);
});
