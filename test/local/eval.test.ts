import { type EvalCase, parseSuite } from '../../lambdas/core/eval';
import { caseFromRun } from '../../lambdas/core/eval-fixtures';
import { summarize } from '../../lambdas/core/eval-report';
import { parseConfig } from '../../lib/config';
import { runSuiteOffline } from '../../local/eval';
import { templateFor } from '../helpers/engine';

const config = parseConfig({});
const engine = () => ({ template: templateFor(config) });
const knobs = { retryScale: 0 };
const suite = (...cases: unknown[]) => parseSuite(cases.map((c) => JSON.stringify(c)).join('\n'));

describe('runSuiteOffline: each case a real run of the synthesized state machine', () => {
  it('runs a three-case suite (two at once), passes two and names the impossible expectation of the third', async () => {
    const cases = suite(
      { id: 'mul', input: 'What is 6 * 7?', expect: { status: 'SUCCEEDED', contains: '42', toolsCalled: ['calculator'], toolsNotCalled: ['search_docs'], maxSteps: 2 } },
      { id: 'pct', input: 'What is 12.5% of 3480?', budgets: { maxSteps: 3 }, expect: { regex: '\\b435\\b' } },
      { id: 'impossible', input: 'What is 2 + 2?', expect: { contains: 'five' } },
    );
    const seen: string[] = [];
    const runs = await runSuiteOffline({ config, cases, concurrency: 2, engine: engine(), onCase: (r) => seen.push(r.result.id) });
    const report = summarize(
      'agent.config.json',
      runs.map((r) => r.result),
    );
    expect(report).toMatchObject({ total: 3, passed: 2 });
    expect(report.cases.map((c) => [c.id, c.passed])).toEqual([
      ['mul', true],
      ['pct', true],
      ['impossible', false],
    ]);
    expect(report.cases[2]?.failures).toEqual([{ expectation: 'contains', message: 'the answer does not contain "five" (answer: "2 + 2 = 4.")' }]);
    expect(report.cases[0]).toMatchObject({ status: 'SUCCEEDED', steps: 2, usage: { costUsd: 0 } });
    expect(report.cases[0]?.usage.inputTokens).toBeGreaterThan(0);
    expect(seen.sort()).toEqual(['impossible', 'mul', 'pct']);
    // The runs are the app's own, each with its trace.
    expect(runs[0]?.run).toMatchObject({ status: 'SUCCEEDED' });
    expect(runs[0]?.events.some((e) => e.type === 'tool_call' && e.name === 'calculator')).toBe(true);
  });

  it('turns a recorded run into a case that passes on its config, its tool results served from the fixtures', async () => {
    const [recorded] = await runSuiteOffline({ config, cases: suite({ id: 'rec', input: 'What is 12.5% of 3480?', expect: {} }), concurrency: 1, engine: engine(), knobs });
    if (!recorded?.run) throw new Error('no recorded run');
    const made = caseFromRun(recorded.run, recorded.events, 'made');
    expect(made.fixtures).toEqual([{ tool: 'calculator', arguments: { expression: '12.5% of 3480' }, result: '435' }]);
    expect(made.reference).toContain('435');
    // The same case with a changed fixture proves the calculator is not asked; a case whose fixtures lack the call
    // fails naming it.
    const doctored: EvalCase = {
      ...made,
      id: 'doctored',
      fixtures: [{ tool: 'calculator', arguments: { expression: '12.5% of 3480' }, result: '999' }],
      expect: { contains: '999' },
    };
    const missing: EvalCase = { ...made, id: 'missing', fixtures: [{ tool: 'calculator', arguments: { expression: '1 + 1' }, result: '2' }] };
    const runs = await runSuiteOffline({ config, cases: [made, doctored, missing], concurrency: 3, engine: engine(), knobs });
    expect(runs.map((r) => [r.result.id, r.result.passed])).toEqual([
      ['made', true],
      ['doctored', true],
      ['missing', false],
    ]);
    expect(runs[2]?.result.failures).toContainEqual({ expectation: 'fixtures', message: 'no fixture for the tool call calculator({"expression":"12.5% of 3480"})' });
  });

  it('passes outputSchema to the run and matches expect.output against the run’s structured output', async () => {
    const schema = { type: 'object', properties: { currency: { const: 'EUR' }, answer: { type: 'string' } }, required: ['currency', 'answer'] };
    const runs = await runSuiteOffline({
      config,
      cases: suite(
        { id: 'eur', input: 'What is 6 * 7?', outputSchema: schema, expect: { output: { currency: 'EUR' } } },
        { id: 'usd', input: 'What is 6 * 7?', outputSchema: schema, expect: { output: { currency: 'USD' } } },
      ),
      concurrency: 2,
      engine: engine(),
      knobs,
    });
    expect(runs.map((r) => [r.result.id, r.result.passed])).toEqual([
      ['eur', true],
      ['usd', false],
    ]);
    expect(runs[1]?.result.failures).toEqual([{ expectation: 'output', message: 'output.currency: expected "USD", got "EUR"' }]);
  });

  it('asks the configured model to judge when a case has a rubric, and reports its verdict and cost', async () => {
    const [judged] = await runSuiteOffline({
      config,
      cases: suite({ id: 'judged', input: 'What is 6 * 7?', expect: { contains: '42', judge: 'The answer gives 42.' } }),
      concurrency: 1,
      engine: engine(),
      knobs,
    });
    // The demo model answers no PASS/FAIL: the judge's missing verdict fails the case, and says so.
    expect(judged?.result.judge).toMatchObject({ passed: false, costUsd: 0 });
    expect(judged?.result.judge?.usage.inputTokens).toBeGreaterThan(0);
    expect(judged?.result.failures).toEqual([{ expectation: 'judge', message: expect.stringContaining('the judge gave no PASS/FAIL verdict: "I am the offline demo model') }]);
  });

  it('rejects a call that waits for a person’s approval (nobody decides during an eval) and fails its case, saying so', async () => {
    const approvals = parseConfig({ toolApprovals: { calculator: 'required' } });
    const [waiting] = await runSuiteOffline({
      config: approvals,
      cases: suite({ id: 'waits', input: 'What is 6 * 7?', expect: {} }),
      concurrency: 1,
      engine: { template: templateFor(approvals) },
      knobs,
    });
    expect(waiting?.result).toMatchObject({
      passed: false,
      status: 'SUCCEEDED',
      failures: [{ expectation: 'approval', message: 'calculator({"expression":"6 * 7"}) waited for a person\'s approval, which an eval cannot give: it was rejected' }],
    });
    expect(waiting?.events.filter((e) => e.type === 'approval_decided')).toEqual([expect.objectContaining({ decision: 'reject', decidedBy: 'eval' })]);
  });
});
