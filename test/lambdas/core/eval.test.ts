import {
  type CaseResult,
  caseFromRun,
  changedVerdicts,
  checkExpectations,
  evalReport,
  fixturesFromTrace,
  fixtureToolRunner,
  judgeAnswer,
  judgeVerdict,
  type Observed,
  parseSuite,
  percentile,
  runPool,
  SuiteError,
  subsetMismatch,
  summarize,
} from '../../../lambdas/core/eval';
import { trace } from '../../../lambdas/core/trace';
import type { ModelProvider, ToolCall, ToolContext, TraceEvent } from '../../../lambdas/core/types';

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
const result = (id: string, passed: boolean, ms = 1000, steps = 2): CaseResult => ({
  id,
  passed,
  failures: passed ? [] : [{ expectation: 'contains', message: 'x' }],
  status: 'SUCCEEDED',
  steps,
  usage: { inputTokens: 100, outputTokens: 10, costUsd: 0.0005 },
  ms,
  runId: `r-${id}`,
  answer: 'a',
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
    expect(err.message).toContain('suite.jsonl line 1: expect: unknown field(s) "contians"; allowed: status, contains, notContains, regex, output, toolsCalled, toolsNotCalled, maxSteps, maxCostUsd, maxTokens, judge');
    expect(err.message).toContain('suite.jsonl line 2: not JSON');
    expect(err.message).toMatch(/suite\.jsonl line 3: expect\.status: .*"SUCCEEDED"/);
    expect(err.message).toContain('suite.jsonl line 4: input: required');
    expect(err.message).toContain('suite.jsonl line 5: the case: unknown field(s) "budget"; allowed: id, input, budgets, outputSchema, fixtures, reference, expect');
    expect(err.message).toContain('suite.jsonl line 6: expect.regex: not a valid regular expression');
  });

  it('refuses a duplicate id naming both lines, and an empty suite', () => {
    expect(() => parseSuite([line({ id: 'a', input: 'x', expect: {} }), line({ id: 'a', input: 'y', expect: {} })].join('\n'))).toThrow('line 2: id "a" is already used on line 1');
    expect(() => parseSuite('\n\n')).toThrow('has no cases');
  });
});

describe('checkExpectations', () => {
  it('passes a run that meets every expectation', () => {
    const expectations = { status: 'SUCCEEDED', contains: ['42', '6 * 7'], notContains: 'sorry', regex: '= \\d+\\.$', toolsCalled: ['calculator'], toolsNotCalled: ['search_docs'], maxSteps: 2, maxTokens: 520, maxCostUsd: 0.001 };
    expect(checkExpectations(expectations, observed())).toEqual([]);
  });

  it('names every expectation the run misses', () => {
    const failures = checkExpectations(
      { status: 'UNFINISHED', contains: 'five', notContains: '42', regex: '^no', toolsCalled: ['search_docs'], toolsNotCalled: ['calculator'], maxSteps: 1, maxTokens: 10, maxCostUsd: 0.0001 },
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

describe('reports', () => {
  it('summarizes a config: pass rate, totals and nearest-rank p50/p95 seconds', () => {
    const s = summarize('c.json', [result('a', true, 1000), result('b', true, 3000), result('c', false, 2000)]);
    expect(s).toMatchObject({ total: 3, passed: 2, steps: 6, usage: { inputTokens: 300, outputTokens: 30, costUsd: 0.0015 }, p50Seconds: 2, p95Seconds: 3 });
    expect(s.passRate).toBeCloseTo(2 / 3);
    expect(percentile([], 50)).toBe(0);
    expect(percentile([5, 1, 3, 2, 4], 95)).toBe(5);
  });

  it('fails below --min-pass, and when the candidate passes fewer cases than the baseline', () => {
    const twoOfThree = summarize('cand', [result('a', true), result('b', true), result('c', false)]);
    expect(evalReport(twoOfThree, 1)).toMatchObject({ ok: false, reasons: ['pass rate 66.7% is below --min-pass 100%'] });
    expect(evalReport(twoOfThree, 0.6)).toMatchObject({ ok: true, reasons: [] });
    const baseline = summarize('base', [result('a', true), result('b', true), result('c', true)]);
    const r = evalReport(twoOfThree, 0.6, baseline);
    expect(r).toMatchObject({ ok: false, reasons: ['the candidate passes 2 case(s), the baseline 3'], baseline: { passed: 3 }, changed: [{ id: 'c', baseline: 'pass', candidate: 'fail' }] });
    expect(changedVerdicts(baseline, twoOfThree)).toEqual([{ id: 'c', baseline: 'fail', candidate: 'pass' }]);
  });
});

describe('fixtures', () => {
  const ctx = (runId: string): ToolContext => ({ runId, step: 1, toolCallId: 'c1', idempotencyKey: 'k' });
  const call = (args: unknown): ToolCall => ({ id: 'c1', name: 'calculator', arguments: args });

  it('serves a call with the same name and arguments (any key order), in order; names a call that has none; leaves other runs to the real tools', async () => {
    const real = jest.fn(async () => ({ content: 'real' }));
    const misses: string[] = [];
    const fixtures = [
      { tool: 'calculator', arguments: { expression: '1+1', precision: 2 }, result: '2' },
      { tool: 'calculator', arguments: { precision: 2, expression: '1+1' }, result: '2.00', isError: false },
    ];
    const run = fixtureToolRunner(real, (id) => (id === 'fx' ? fixtures : undefined), (_id, c) => misses.push(c));
    expect(await run(call({ precision: 2, expression: '1+1' }), ctx('fx'))).toEqual({ content: '2' });
    expect(await run(call({ expression: '1+1', precision: 2 }), ctx('fx'))).toEqual({ content: '2.00' });
    expect(await run(call({ expression: '1+1', precision: 2 }), ctx('fx'))).toEqual({ content: '2.00' });
    expect(await run(call({ expression: '2+2' }), ctx('fx'))).toMatchObject({ isError: true, content: expect.stringContaining('calculator({"expression":"2+2"})') });
    expect(misses).toEqual(['calculator({"expression":"2+2"})']);
    expect(real).not.toHaveBeenCalled();
    expect(await run(call({ expression: '2+2' }), ctx('live'))).toEqual({ content: 'real' });
  });

  it('makes a case from a recorded run: input, tool results as fixtures, status, the answer as reference', () => {
    const events = [
      { ...trace.runStarted({ step: 0, input: 'What is 6 * 7?', maxSteps: 20, maxTokens: 1000 }), at: 't0' },
      { ...trace.toolCall({ step: 1, toolCallId: 'c1', name: 'calculator', arguments: { expression: '6 * 7' }, idempotencyKey: 'k', latencyMs: 1 }), at: 't1', result: '42' },
      { ...trace.toolCall({ step: 1, toolCallId: 'c2', name: 'calculator', arguments: {}, idempotencyKey: 'k', latencyMs: 1, error: { name: 'TransientError', message: 'x' } }), at: 't1' },
    ] as TraceEvent[];
    expect(fixturesFromTrace(events)).toEqual([{ tool: 'calculator', arguments: { expression: '6 * 7' }, result: '42' }]);
    expect(caseFromRun({ runId: 'abc', status: 'SUCCEEDED', answer: '42.' }, events)).toEqual({
      id: 'run-abc',
      input: 'What is 6 * 7?',
      fixtures: [{ tool: 'calculator', arguments: { expression: '6 * 7' }, result: '42' }],
      reference: '42.',
      expect: { status: 'SUCCEEDED' },
    });
    expect(() => caseFromRun({ runId: 'abc', status: 'SUCCEEDED', answer: null }, [])).toThrow('no run_started event');
  });
});

describe('the judge', () => {
  const model = (text: string | Error): ModelProvider => ({
    provider: 'openai',
    model: 'gpt-4o-mini',
    complete: async () => {
      if (text instanceof Error) throw text;
      return { text, toolCalls: [], usage: { inputTokens: 1_000_000, outputTokens: 100_000 }, finishReason: 'stop', model: 'gpt-4o-mini' };
    },
  });
  const price = { inputPerMTokUsd: 0.15, outputPerMTokUsd: 0.6 };

  it('reads PASS/FAIL from the first word and prices the call', async () => {
    expect(judgeVerdict('PASS: it names the capital')).toEqual({ passed: true, reason: 'it names the capital' });
    expect(judgeVerdict('**FAIL** - wrong city')).toEqual({ passed: false, reason: 'wrong city' });
    expect(judgeVerdict('Maybe?').passed).toBe(false);
    const verdict = await judgeAnswer(model('PASS\nIt answers 42.'), price, { rubric: 'says 42', input: 'q', answer: '42' });
    expect(verdict).toEqual({ passed: true, reason: 'It answers 42.', usage: { inputTokens: 1_000_000, outputTokens: 100_000 }, costUsd: 0.21 });
  });

  it('fails a case whose judge cannot be asked, saying why', async () => {
    expect(await judgeAnswer(model(Object.assign(new Error('down'), { name: 'TransientError' })), price, { rubric: 'r', input: 'q', answer: null })).toMatchObject({
      passed: false,
      reason: 'the judge could not be asked (TransientError: down)',
      costUsd: 0,
    });
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
