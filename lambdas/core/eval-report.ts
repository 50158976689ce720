import type { CaseResult } from './eval';
import type { Usage } from './types';

/** An eval's report (docs/evals.md): a config's figures over its cases, the baseline comparison, the verdict for CI. */

/** A config's report over a suite. */
export interface SuiteReport {
  config: string;
  total: number;
  passed: number;
  passRate: number;
  steps: number;
  usage: Usage & { costUsd: number };
  /** What the judge's calls cost (not part of the runs' usage). */
  judgeCostUsd: number;
  p50Seconds: number;
  p95Seconds: number;
  cases: CaseResult[];
}

/** The nearest-rank percentile of some values (0 for none). */
export function percentile(values: number[], p: number): number {
  if (!values.length) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

const roundUsd = (usd: number) => Math.round(usd * 1_000_000) / 1_000_000;

/** A config's totals over its cases. */
export function summarize(config: string, cases: CaseResult[]): SuiteReport {
  const passed = cases.filter((c) => c.passed).length;
  const seconds = cases.map((c) => c.ms / 1000);
  const sum = (f: (c: CaseResult) => number) => cases.reduce((acc, c) => acc + f(c), 0);
  return {
    config,
    total: cases.length,
    passed,
    passRate: cases.length ? passed / cases.length : 0,
    steps: sum((c) => c.steps),
    usage: { inputTokens: sum((c) => c.usage.inputTokens), outputTokens: sum((c) => c.usage.outputTokens), costUsd: roundUsd(sum((c) => c.usage.costUsd)) },
    judgeCostUsd: roundUsd(sum((c) => c.judge?.costUsd ?? 0)),
    p50Seconds: percentile(seconds, 50),
    p95Seconds: percentile(seconds, 95),
    cases,
  };
}

/** A case whose verdict differs between the baseline and the candidate. */
export interface ChangedVerdict {
  id: string;
  baseline: 'pass' | 'fail';
  candidate: 'pass' | 'fail';
}

export function changedVerdicts(candidate: SuiteReport, baseline: SuiteReport): ChangedVerdict[] {
  const before = new Map(baseline.cases.map((c) => [c.id, c.passed]));
  return candidate.cases.flatMap((c) => {
    const was = before.get(c.id);
    return was === undefined || was === c.passed ? [] : [{ id: c.id, baseline: was ? 'pass' : 'fail', candidate: c.passed ? 'pass' : 'fail' } as ChangedVerdict];
  });
}

/** The whole report: the candidate's figures at the top level (`--json`), the baseline's beside them. */
export type EvalReport = SuiteReport & { minPass: number; ok: boolean; reasons: string[]; baseline?: SuiteReport; changed?: ChangedVerdict[] };

/**
 * The report and its verdict for CI: not ok when the candidate's pass rate is below `minPass`, or, with a
 * baseline, when the candidate passes fewer cases than the baseline.
 */
export function evalReport(candidate: SuiteReport, minPass: number, baseline?: SuiteReport): EvalReport {
  const reasons: string[] = [];
  if (candidate.passRate < minPass) reasons.push(`pass rate ${pct(candidate.passRate)} is below --min-pass ${pct(minPass)}`);
  if (baseline && candidate.passed < baseline.passed) reasons.push(`the candidate passes ${candidate.passed} case(s), the baseline ${baseline.passed}`);
  return { ...candidate, minPass, ok: reasons.length === 0, reasons, ...(baseline ? { baseline, changed: changedVerdicts(candidate, baseline) } : {}) };
}

export const pct = (rate: number): string => `${(Math.round(rate * 1000) / 10).toString()}%`;
