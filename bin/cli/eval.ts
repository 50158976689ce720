import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { type CaseResult, type EvalCase, parseSuite, SuiteError } from '../../lambdas/core/eval';
import { caseFromRun } from '../../lambdas/core/eval-fixtures';
import { evalReport, summarize } from '../../lambdas/core/eval-report';
import { parseTraceEvent, type TraceEvent } from '../../lambdas/core/trace';
import { ACTIVE_STATUSES, type RunView } from '../../lambdas/core/types';
import { type AgentConfig, configPath, loadConfig } from '../../lib/config';
import { apiTarget, callApi } from './client';
import { type CliCommand, type CliValues, intOption, UsageError } from './common';
import { markdownReport, textReport } from './eval-report';
import { withApi } from './local';

/** One case's run, as the report and `--out` need it. */
interface CaseRun {
  result: CaseResult;
  run: RunView | null;
  events: TraceEvent[];
}

const DEFAULT_CONCURRENCY = 4;

/**
 * `agent eval <suite.jsonl>`: every case of the suite a real run — offline through the synthesized state machine, or
 * on a deployed stack with `--api` — checked against its expectations; `--baseline <config>` runs the suite on a
 * second config and sets the two side by side. Exit 0 when the pass rate reaches `--min-pass` (default 1) and the
 * candidate passes at least as many cases as the baseline, else 1. `agent eval add <runId> --suite <file>` appends a
 * case made from a recorded run. docs/evals.md.
 */
export const evalCommand: CliCommand = {
  usage: 'eval <suite.jsonl>     run a suite of cases (offline, or --api), check their expectations; eval add <runId> --suite <file>',
  async run({ config, positionals, values }) {
    if (positionals[0] === 'add') return addCase(config, positionals.slice(1), values);
    const file = positionals[0];
    if (!file) throw new UsageError('agent eval needs a suite: agent eval <suite.jsonl> [--config <candidate>] [--baseline <config>] (one JSON case a line; docs/evals.md)');
    const cases = readSuite(file);
    const minPass = minPassOption(values['min-pass']);
    const concurrency = intOption('concurrency', values.concurrency) ?? DEFAULT_CONCURRENCY;
    const out = typeof values.out === 'string' ? resolve(values.out) : undefined;
    const remote = typeof values.api === 'string';
    if (remote && typeof values.baseline === 'string') throw new UsageError('--baseline compares two configs offline; with --api the deployed stack is the one config under test');
    const baselineConfig = typeof values.baseline === 'string' ? loadConfig(values.baseline) : undefined;
    const progress = (label: string) => (r: CaseRun) =>
      process.stderr.write(
        `${label} ${r.result.id}: ${r.result.passed ? 'pass' : `FAIL (${r.result.failures.map((f) => f.expectation).join(', ')})`} · ${r.result.status} · ${(r.result.ms / 1000).toFixed(2)} s\n`,
      );

    const runOn = async (label: string, cfg: AgentConfig): Promise<CaseRun[]> => {
      if (remote) return (await import('./eval-remote')).runSuiteRemote({ target: apiTarget(values), config: cfg, cases, concurrency, onCase: progress(label) });
      const { runSuiteOffline } = await import('../../local/eval');
      return runSuiteOffline({ config: cfg, cases, concurrency, engine: out ? { dataDir: join(out, 'data', label) } : {}, onCase: progress(label) });
    };
    const candidateLabel = remote ? (values.api as string) : relative(process.cwd(), configPath(values.config as string | undefined));
    const candidate = await runOn('candidate', config);
    const baseline = baselineConfig ? await runOn('baseline', baselineConfig) : undefined;
    const report = evalReport(
      summarize(
        candidateLabel,
        candidate.map((r) => r.result),
      ),
      minPass,
      baseline &&
        summarize(
          relative(process.cwd(), resolve(values.baseline as string)),
          baseline.map((r) => r.result),
        ),
    );
    if (out) {
      writeOut(out, report, { candidate, ...(baseline ? { baseline } : {}) });
      process.stderr.write(`wrote ${join(out, 'report.json')}, ${join(out, 'report.md')} and the traces in ${join(out, 'traces')}\n`);
    }
    process.stdout.write(values.json ? `${JSON.stringify(report)}\n` : textReport(report));
    return report.ok ? 0 : 1;
  },
};

function readSuite(file: string): EvalCase[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read the suite ${file}: ${(err as Error).message}`);
  }
  try {
    return parseSuite(text, file);
  } catch (err) {
    if (err instanceof SuiteError) throw new UsageError(err.message);
    throw err;
  }
}

function minPassOption(value: string | boolean | undefined): number {
  if (value === undefined) return 1;
  const n = Number(value);
  if (typeof value !== 'string' || value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1)
    throw new UsageError(`--min-pass must be a number from 0 to 1, the share of cases that must pass (got "${value}")`);
  return n;
}

/**
 * `--out <dir>`: report.json (what `--json` prints), report.md, and each case's trace as `traces/<config>/<case>.json`
 * (`{run, events}`, as `agent trace --export` writes it: `agent replay --file` and `agent eval add --file` read it).
 * Offline the runs themselves are kept in `data/<config>/`: `agent serve --data <dir>/data/candidate` opens them in
 * the viewer.
 */
function writeOut(out: string, report: ReturnType<typeof evalReport>, runs: Record<string, CaseRun[]>): void {
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'report.json'), `${JSON.stringify(report, null, 1)}\n`);
  writeFileSync(join(out, 'report.md'), markdownReport(report));
  for (const [label, list] of Object.entries(runs)) {
    const dir = join(out, 'traces', label);
    // This run's traces only (a case removed since the last run leaves no stale file behind).
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    for (const r of list) if (r.run) writeFileSync(join(dir, `${r.result.id}.json`), JSON.stringify({ run: r.run, events: r.events }, null, 1));
  }
}

/**
 * `agent eval add <runId> --suite <file>`: the recorded run (from `--api`, the local server, or the local data dir
 * when no server runs — as `agent show` reads it —, or an exported trace with `--file`) becomes a case appended to the suite: its input, its tool results as fixtures, its status as the
 * expectation and its answer as `reference`.
 */
async function addCase(config: AgentConfig, positionals: string[], values: CliValues): Promise<number> {
  const suite = values.suite;
  if (typeof suite !== 'string') throw new UsageError('agent eval add needs the suite to append to: agent eval add <runId> --suite <file.jsonl>');
  let run: RunView;
  let events: TraceEvent[];
  if (typeof values.file === 'string') {
    const file = JSON.parse(readFileSync(values.file, 'utf8')) as { run?: RunView; events?: unknown };
    if (!file.run || !Array.isArray(file.events))
      throw new UsageError(`${values.file} is not an exported trace: expected {"run": {...}, "events": [...]} (agent trace <id> --export <file>)`);
    run = file.run;
    events = file.events.map(parseTraceEvent);
  } else {
    const id = positionals[0];
    if (!id) throw new UsageError('agent eval add needs a run id (or --file <trace.json>): agent eval add <runId> --suite <file.jsonl>');
    const path = `/runs/${encodeURIComponent(id)}`;
    const recorded = await withApi(values, config, async (target) => ({
      run: await callApi<RunView>(target, 'GET', path),
      trace: await callApi<{ events: Record<string, unknown>[] }>(target, 'GET', `${path}/trace`),
    }));
    run = recorded.run;
    events = recorded.trace.events.map(parseTraceEvent);
  }
  if (ACTIVE_STATUSES.includes(run.status)) throw new UsageError(`run ${run.runId} is ${run.status}: add it once it has ended`);
  const existing = existsSync(suite) ? readSuite(suite) : [];
  const made = caseFromRun(run, events);
  if (existing.some((c) => c.id === made.id)) throw new UsageError(`${suite} already has a case "${made.id}"`);
  const text = existsSync(suite) ? readFileSync(suite, 'utf8') : '';
  appendFileSync(suite, `${text && !text.endsWith('\n') ? '\n' : ''}${JSON.stringify(made)}\n`);
  process.stdout.write(
    values.json
      ? `${JSON.stringify(made)}\n`
      : `added case ${made.id} to ${suite}: ${made.fixtures?.length ?? 0} tool result(s) as fixtures, expect.status ${made.expect.status}; the recorded answer is its "reference": turn it into expectations (contains, regex, ...)\n`,
  );
  return 0;
}
