import type { CaseResult } from '../../../lambdas/core/eval';
import { changedVerdicts, evalReport, percentile, summarize } from '../../../lambdas/core/eval-report';

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
    expect(r).toMatchObject({
      ok: false,
      reasons: ['the candidate passes 2 case(s), the baseline 3'],
      baseline: { passed: 3 },
      changed: [{ id: 'c', baseline: 'pass', candidate: 'fail' }],
    });
    expect(changedVerdicts(baseline, twoOfThree)).toEqual([{ id: 'c', baseline: 'fail', candidate: 'pass' }]);
  });
});
