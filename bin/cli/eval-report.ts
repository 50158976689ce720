import type { CaseResult } from '../../lambdas/core/eval';
import { type EvalReport, pct, type SuiteReport } from '../../lambdas/core/eval-report';

/** How an eval report reads on a terminal and in report.md (`agent eval`, docs/evals.md). */

const usd = (n: number) => `$${n.toFixed(4)}`;
const secs = (n: number) => `${n.toFixed(2)} s`;
const tokens = (c: Pick<CaseResult, 'usage'>) => c.usage.inputTokens + c.usage.outputTokens;
const why = (c: CaseResult) => c.failures.map((f) => `${f.expectation}: ${f.message}`).join('; ');

function table(head: string[], rows: string[][], align: ('l' | 'r')[]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (align[i] === 'r' ? c.padStart(widths[i] ?? 0) : i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(head), ...rows.map(line)].join('\n');
}

const caseRow = (c: CaseResult) => [c.id, c.passed ? 'pass' : 'FAIL', String(c.steps), String(tokens(c)), usd(c.usage.costUsd), secs(c.ms / 1000), why(c)];

/** One line of totals for a config. */
export function totalsLine(r: SuiteReport): string {
  const judge = r.judgeCostUsd > 0 ? ` · judge ${usd(r.judgeCostUsd)}` : '';
  return `${r.passed}/${r.total} passed (${pct(r.passRate)}) · ${r.steps} steps · ${r.usage.inputTokens + r.usage.outputTokens} tokens · ${usd(r.usage.costUsd)}${judge} · p50 ${secs(r.p50Seconds)} · p95 ${secs(r.p95Seconds)}`;
}

/** The figures of the baseline and the candidate side by side. */
function sideBySide(candidate: SuiteReport, baseline: SuiteReport): string[][] {
  const pair = (f: (r: SuiteReport) => string) => [f(baseline), f(candidate)];
  return [
    ['pass rate', ...pair((r) => `${r.passed}/${r.total} (${pct(r.passRate)})`)],
    ['steps', ...pair((r) => String(r.steps))],
    ['tokens', ...pair((r) => String(r.usage.inputTokens + r.usage.outputTokens))],
    ['dollars', ...pair((r) => usd(r.usage.costUsd))],
    ['p50', ...pair((r) => secs(r.p50Seconds))],
    ['p95', ...pair((r) => secs(r.p95Seconds))],
  ];
}

const verdictLine = (r: EvalReport) => (r.ok ? `OK (min pass ${pct(r.minPass)})` : `FAILED: ${r.reasons.join('; ')}`);

/** The report as the terminal shows it: a row per case, the totals, the comparison, the verdict. */
export function textReport(r: EvalReport): string {
  const head = ['case', 'result', 'steps', 'tokens', 'cost', 'seconds', 'why'];
  const align: ('l' | 'r')[] = ['l', 'l', 'r', 'r', 'r', 'r', 'l'];
  const out = [`candidate (${r.config})`, table(head, r.cases.map(caseRow), align), totalsLine(r)];
  if (r.baseline) {
    out.push('', `baseline (${r.baseline.config})`, table(head, r.baseline.cases.map(caseRow), align), totalsLine(r.baseline));
    out.push('', table(['', 'baseline', 'candidate'], sideBySide(r, r.baseline), ['l', 'r', 'r']));
    out.push(r.changed?.length ? `changed verdicts: ${r.changed.map((c) => `${c.id} ${c.baseline} → ${c.candidate}`).join(', ')}` : 'changed verdicts: none');
  }
  out.push(verdictLine(r));
  return `${out.join('\n')}\n`;
}

const md = (s: string) => s.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');

function mdTable(head: string[], rows: string[][]): string {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(md).join(' | ')} |`)].join('\n');
}

/** report.md: the same figures as Markdown (for a CI summary or a pull request comment). */
export function markdownReport(r: EvalReport): string {
  const head = ['case', 'result', 'steps', 'tokens', 'cost', 'seconds', 'why'];
  const out = ['# Eval report', '', `**${verdictLine(r)}**`, '', `## Candidate: \`${r.config}\``, '', totalsLine(r), '', mdTable(head, r.cases.map(caseRow))];
  if (r.baseline) {
    out.push('', `## Baseline: \`${r.baseline.config}\``, '', totalsLine(r.baseline), '', mdTable(head, r.baseline.cases.map(caseRow)));
    out.push('', '## Side by side', '', mdTable(['', 'baseline', 'candidate'], sideBySide(r, r.baseline)));
    out.push('', '### Changed verdicts', '', ...(r.changed?.length ? r.changed.map((c) => `- \`${c.id}\`: ${c.baseline} → ${c.candidate}`) : ['none']));
  }
  return `${out.join('\n')}\n`;
}
