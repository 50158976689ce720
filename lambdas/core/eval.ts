import { z } from 'zod';
import { costMicros, type ModelPrice, toUsd } from './pricing';
import { canonicalJson } from './signature';
import { ofKind } from './trace';
import { type ModelProvider, RUN_STATUSES, type RunView, type ToolCall, type ToolContext, type ToolResult, type TraceEvent, type Usage } from './types';

/**
 * Evals (docs/evals.md): a suite of cases, each a real run with expectations on its outcome. This module is the pure
 * part — the suite's schema, checking a finished run against its expectations, the report's figures, the baseline
 * comparison and the exit decision, and tool fixtures — so the CLI and the offline runner only wire it.
 */

/** A recorded tool result served to a call with the same tool name and (canonically) the same arguments. */
export const FixtureSchema = z.strictObject({
  tool: z.string().min(1),
  arguments: z.unknown().optional(),
  result: z.string(),
  isError: z.boolean().optional(),
});
export type Fixture = z.output<typeof FixtureSchema>;

const oneOrMany = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);

const regexString = z.string().refine(
  (s) => {
    try {
      new RegExp(s);
      return true;
    } catch {
      return false;
    }
  },
  { message: 'not a valid regular expression (JavaScript syntax, no surrounding slashes)' },
);

export const ExpectSchema = z.strictObject({
  status: z.enum(RUN_STATUSES as [string, ...string[]]).optional(),
  contains: oneOrMany.optional(),
  notContains: oneOrMany.optional(),
  regex: regexString.optional(),
  output: z.record(z.string(), z.unknown()).optional(),
  toolsCalled: z.array(z.string().min(1)).optional(),
  toolsNotCalled: z.array(z.string().min(1)).optional(),
  maxSteps: z.number().int().nonnegative().optional(),
  maxCostUsd: z.number().nonnegative().optional(),
  maxTokens: z.number().int().nonnegative().optional(),
  judge: z.string().min(1).optional(),
});
export type Expectations = z.output<typeof ExpectSchema>;

export const EvalCaseSchema = z.strictObject({
  id: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, ".", "_" and "-", at most 64 characters')
    .optional(),
  input: z.string().trim().min(1),
  budgets: z
    .strictObject({
      maxSteps: z.number().int().positive().optional(),
      maxTokens: z.number().int().positive().optional(),
      maxCostUsd: z.number().positive().optional(),
    })
    .optional(),
  outputSchema: z.record(z.string(), z.unknown()).optional(),
  fixtures: z.array(FixtureSchema).optional(),
  /** The recorded answer of the run a case was made from (`agent eval add`), for a person to turn into expectations. */
  reference: z.string().nullable().optional(),
  expect: ExpectSchema,
});
export type EvalCaseInput = z.input<typeof EvalCaseSchema>;
/** A case of a suite, its id given or made from its line number. */
export type EvalCase = z.output<typeof EvalCaseSchema> & { id: string };

/** What each object of a case allows, for the error messages. */
const ALLOWED: Record<string, readonly string[]> = {
  '': Object.keys(EvalCaseSchema.shape),
  expect: Object.keys(ExpectSchema.shape),
  budgets: ['maxSteps', 'maxTokens', 'maxCostUsd'],
  fixtures: Object.keys(FixtureSchema.shape),
};

/** A suite that cannot be run: every bad line named, with what is allowed. */
export class SuiteError extends Error {
  override name = 'SuiteError';
}

const pathOf = (path: ReadonlyArray<PropertyKey>): string =>
  path.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${String(p)}` : String(p)), '');

/** The lines of a JSON Lines suite as cases; blank lines are skipped. Throws SuiteError naming each bad line. */
export function parseSuite(text: string, source = 'suite'): EvalCase[] {
  const cases: EvalCase[] = [];
  const problems: string[] = [];
  const ids = new Map<string, number>();
  text.split(/\r?\n/).forEach((line, index) => {
    const n = index + 1;
    if (!line.trim()) return;
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch (err) {
      problems.push(`${source} line ${n}: not JSON (${(err as Error).message}); each line is one case: {"input": "…", "expect": {…}}`);
      return;
    }
    const parsed = EvalCaseSchema.safeParse(raw);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) problems.push(`${source} line ${n}: ${describeIssue(issue)}`);
      return;
    }
    const id = parsed.data.id ?? `line-${n}`;
    const seen = ids.get(id);
    if (seen !== undefined) {
      problems.push(`${source} line ${n}: id "${id}" is already used on line ${seen}; ids must be unique`);
      return;
    }
    ids.set(id, n);
    cases.push({ ...parsed.data, id });
  });
  if (problems.length) throw new SuiteError(`invalid ${source}:\n${problems.map((p) => `- ${p}`).join('\n')}`);
  if (!cases.length) throw new SuiteError(`${source} has no cases: one JSON object a line, e.g. {"input": "What is 6 * 7?", "expect": {"contains": "42"}}`);
  return cases;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const key = pathOf(issue.path);
  if (issue.code === 'unrecognized_keys') {
    const where = issue.path.filter((p) => typeof p === 'string').join('.');
    const allowed = ALLOWED[where] ?? ALLOWED[String(issue.path[0] ?? '')] ?? [];
    return `${key || 'the case'}: unknown field(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}; allowed: ${allowed.join(', ')}`;
  }
  if (issue.code === 'invalid_type' && issue.input === undefined) return `${key}: required`;
  return `${key || 'the case'}: ${issue.message}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Checking one run

/** What a finished run showed, as the expectations read it. */
export interface Observed {
  status: string;
  answer: string | null;
  /** The run's structured output; `undefined` when the run (or the deployment) has none. */
  output?: unknown;
  steps: number;
  usage: Usage & { costUsd: number };
  /** Names of the tools the run called (each once, in first-call order). */
  toolsCalled: string[];
  /** Tool calls that had no fixture (cases with `fixtures` only). */
  fixtureMisses: string[];
  /** Tool calls that waited for a person's approval (offline evals reject them: nobody decides during an eval). */
  approvalsRejected?: string[];
  /** The run could not be made or followed (start refused, execution failed, timed out). */
  error?: string;
}

/** One expectation a run did not meet: which, and why. */
export interface Failure {
  expectation: string;
  message: string;
}

const list = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
const quote = (s: string, max = 80) => JSON.stringify(s.length > max ? `${s.slice(0, max)}…` : s);

/** Every expectation of the case the run did not meet (empty: it passed). The judge is checked apart. */
export function checkExpectations(expect: Expectations, run: Observed): Failure[] {
  const out: Failure[] = [];
  const fail = (expectation: string, message: string) => out.push({ expectation, message });
  if (run.error) fail('run', run.error);
  for (const miss of run.fixtureMisses) fail('fixtures', `no fixture for the tool call ${miss}`);
  for (const call of run.approvalsRejected ?? []) fail('approval', `${call} waited for a person's approval, which an eval cannot give: it was rejected`);
  const answer = run.answer ?? '';
  if (expect.status !== undefined && run.status !== expect.status) fail('status', `expected ${expect.status}, got ${run.status}`);
  for (const s of list(expect.contains)) if (!answer.includes(s)) fail('contains', `the answer does not contain ${quote(s)} (answer: ${quote(answer)})`);
  for (const s of list(expect.notContains)) if (answer.includes(s)) fail('notContains', `the answer contains ${quote(s)}`);
  if (expect.regex !== undefined && !new RegExp(expect.regex).test(answer)) fail('regex', `the answer does not match /${expect.regex}/ (answer: ${quote(answer)})`);
  if (expect.output !== undefined) {
    if (run.output === undefined || run.output === null) fail('output', 'the run has no structured output (give the case an outputSchema; the deployment must return `output` on the run)');
    else {
      const miss = subsetMismatch(expect.output, run.output, 'output');
      if (miss) fail('output', miss);
    }
  }
  for (const name of expect.toolsCalled ?? []) if (!run.toolsCalled.includes(name)) fail('toolsCalled', `${name} was not called (called: ${run.toolsCalled.join(', ') || 'none'})`);
  for (const name of expect.toolsNotCalled ?? []) if (run.toolsCalled.includes(name)) fail('toolsNotCalled', `${name} was called`);
  if (expect.maxSteps !== undefined && run.steps > expect.maxSteps) fail('maxSteps', `${run.steps} steps, more than ${expect.maxSteps}`);
  const tokens = run.usage.inputTokens + run.usage.outputTokens;
  if (expect.maxTokens !== undefined && tokens > expect.maxTokens) fail('maxTokens', `${tokens} tokens, more than ${expect.maxTokens}`);
  if (expect.maxCostUsd !== undefined && run.usage.costUsd > expect.maxCostUsd) fail('maxCostUsd', `$${run.usage.costUsd.toFixed(6)}, more than $${expect.maxCostUsd}`);
  return out;
}

/**
 * Where `actual` fails to contain `expected` (null: it does): objects match when every expected key matches
 * (extra keys are fine), arrays element by element with the same length, everything else by equal JSON.
 */
export function subsetMismatch(expected: unknown, actual: unknown, path: string): string | null {
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return `${path}: expected an array, got ${canonicalJson(actual)}`;
    if (actual.length !== expected.length) return `${path}: expected ${expected.length} item(s), got ${actual.length}`;
    for (let i = 0; i < expected.length; i++) {
      const miss = subsetMismatch(expected[i], actual[i], `${path}[${i}]`);
      if (miss) return miss;
    }
    return null;
  }
  if (expected && typeof expected === 'object') {
    if (!actual || typeof actual !== 'object' || Array.isArray(actual)) return `${path}: expected an object, got ${canonicalJson(actual)}`;
    for (const [k, v] of Object.entries(expected)) {
      if (!(k in actual)) return `${path}.${k}: missing`;
      const miss = subsetMismatch(v, (actual as Record<string, unknown>)[k], `${path}.${k}`);
      if (miss) return miss;
    }
    return null;
  }
  return canonicalJson(expected) === canonicalJson(actual) ? null : `${path}: expected ${canonicalJson(expected)}, got ${canonicalJson(actual)}`;
}

/** The tools a trace shows called (each name once, in first-call order; discarded calls left out). */
export function toolsCalledIn(events: TraceEvent[]): string[] {
  const names: string[] = [];
  for (const e of events.filter(ofKind('tool_call'))) if (!e.discarded && !names.includes(e.name)) names.push(e.name);
  return names;
}

/** What the expectations read from a finished run (or from none), and what the runner saw on the way. */
export function observe(run: RunView | null, events: TraceEvent[], seen: { fixtureMisses?: string[]; approvalsRejected?: string[]; error?: string } = {}): Observed {
  return {
    status: run?.status ?? 'NOT_RUN',
    answer: run?.answer ?? null,
    output: (run as (RunView & { output?: unknown }) | null)?.output,
    steps: run?.steps ?? 0,
    usage: { inputTokens: run?.usage.inputTokens ?? 0, outputTokens: run?.usage.outputTokens ?? 0, costUsd: run?.usage.costUsd ?? 0 },
    toolsCalled: toolsCalledIn(events),
    fixtureMisses: seen.fixtureMisses ?? [],
    ...(seen.approvalsRejected?.length ? { approvalsRejected: seen.approvalsRejected } : {}),
    ...(seen.error ? { error: seen.error } : {}),
  };
}

/** A case's result from what its run showed (and the judge's verdict, when asked). */
export function caseResult(c: EvalCase, observed: Observed, ms: number, runId: string | null, judge?: CaseResult['judge']): CaseResult {
  const failures = checkExpectations(c.expect, observed);
  if (judge && !judge.passed) failures.push({ expectation: 'judge', message: judge.reason || 'the judge said FAIL' });
  return {
    id: c.id,
    passed: failures.length === 0,
    failures,
    status: observed.status,
    steps: observed.steps,
    usage: observed.usage,
    ms,
    runId,
    answer: observed.answer,
    ...(judge ? { judge } : {}),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The judge

/** The judge's question: does the answer meet the rubric? (Asked of the configured model; docs/evals.md.) */
export function judgePrompt(rubric: string, input: string, answer: string | null): string {
  return [
    'You are grading an AI assistant. Decide whether its answer meets the rubric.',
    'Reply with PASS or FAIL on the first line, then one sentence saying why.',
    '',
    `Rubric: ${rubric}`,
    '',
    `Request: ${input}`,
    '',
    `Answer: ${answer ?? '(no answer)'}`,
  ].join('\n');
}

/** The judge's verdict from its reply: PASS/FAIL as the first word; anything else is no verdict (a failure). */
export function judgeVerdict(reply: string): { passed: boolean; reason: string } {
  const text = reply.trim();
  const m = /^\W*(PASS|FAIL)\b[\W_]*([\s\S]*)$/i.exec(text);
  if (!m) return { passed: false, reason: `the judge gave no PASS/FAIL verdict: ${quote(text, 200)}` };
  return { passed: m[1]?.toUpperCase() === 'PASS', reason: (m[2] ?? '').trim() };
}

/** The judge's verdict on one answer, and what asking it cost. */
export interface JudgeResult {
  passed: boolean;
  reason: string;
  usage: Usage;
  costUsd: number;
}

/**
 * Asks a model (the configured primary) whether the answer meets the rubric. Its usage is priced with `price`
 * (per million tokens; free when unknown) and reported apart from the run's. A failed call is a failed verdict.
 */
export async function judgeAnswer(
  model: ModelProvider,
  price: ModelPrice | undefined,
  req: { rubric: string; input: string; answer: string | null; maxOutputTokens?: number },
): Promise<JudgeResult> {
  try {
    const res = await model.complete({ messages: [{ role: 'user', content: judgePrompt(req.rubric, req.input, req.answer) }], tools: [], maxOutputTokens: req.maxOutputTokens ?? 300 });
    const costUsd = price ? toUsd(costMicros(res.usage, price)) : 0;
    return { ...judgeVerdict(res.text), usage: res.usage, costUsd };
  } catch (err) {
    return { passed: false, reason: `the judge could not be asked (${(err as Error).name}: ${(err as Error).message})`, usage: { inputTokens: 0, outputTokens: 0 }, costUsd: 0 };
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Reports

/** One case's result, as `--json` and report.json print it. */
export interface CaseResult {
  id: string;
  passed: boolean;
  failures: Failure[];
  status: string;
  steps: number;
  usage: Usage & { costUsd: number };
  ms: number;
  runId: string | null;
  answer: string | null;
  /** The judge's verdict and what asking it cost (cases with `expect.judge`). */
  judge?: JudgeResult;
}

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

// ---------------------------------------------------------------------------------------------------------------
// Fixtures

/** The key a tool call is matched by: its name and canonical arguments. */
export const callKey = (name: string, args: unknown): string => `${name}(${canonicalJson(args ?? null)})`;

/**
 * The tool results of a recorded run as fixtures: each completed call's name, arguments and result (a result the
 * run kept after the tool failed through its retries included, as the error the model saw).
 */
export function fixturesFromTrace(events: TraceEvent[]): Fixture[] {
  const out: Fixture[] = [];
  for (const e of events.filter(ofKind('tool_call'))) {
    if (e.discarded || e.error || e.result === undefined || e.result === null) continue;
    out.push({ tool: e.name, ...(e.arguments === undefined ? {} : { arguments: e.arguments }), result: e.result, ...(e.isError ? { isError: true } : {}) });
  }
  return out;
}

/**
 * A case made from a recorded run (`agent eval add`): its input, its tool results as fixtures, its status as the
 * expectation and its answer as `reference`.
 */
export function caseFromRun(run: Pick<RunView, 'runId' | 'status' | 'answer'>, events: TraceEvent[], id?: string): EvalCase {
  const started = events.find(ofKind('run_started'));
  if (!started) throw new SuiteError(`run ${run.runId} has no run_started event in its trace: its input is unknown`);
  return EvalCaseSchema.parse({
    id: id ?? `run-${run.runId}`.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 64),
    input: started.input,
    fixtures: fixturesFromTrace(events),
    reference: run.answer,
    expect: { status: run.status },
  }) as EvalCase;
}

/**
 * Serves tool calls from fixtures for the runs that have them (`fixturesOf(runId)`; undefined: the real tools run).
 * A call matching a fixture gets its result (several fixtures of one call are served in order, the last one
 * repeated); a call matching none is reported to `onMiss` and answered with an error result the model sees, so the
 * run goes on and the case fails naming the call.
 */
export function fixtureToolRunner(
  real: (call: ToolCall, ctx: ToolContext) => Promise<ToolResult>,
  fixturesOf: (runId: string) => Fixture[] | undefined,
  onMiss: (runId: string, call: string) => void,
): (call: ToolCall, ctx: ToolContext) => Promise<ToolResult> {
  const served = new Map<string, Map<string, number>>();
  return async (call, ctx) => {
    const fixtures = fixturesOf(ctx.runId);
    if (!fixtures) return real(call, ctx);
    const key = callKey(call.name, call.arguments);
    const matching = fixtures.filter((f) => callKey(f.tool, f.arguments) === key);
    if (!matching.length) {
      onMiss(ctx.runId, key);
      return { content: `No recorded result for ${key} in this eval case's fixtures.`, isError: true };
    }
    const counts = served.get(ctx.runId) ?? new Map<string, number>();
    served.set(ctx.runId, counts);
    const n = counts.get(key) ?? 0;
    counts.set(key, n + 1);
    const f = matching[Math.min(n, matching.length - 1)] as Fixture;
    return { content: f.result, ...(f.isError ? { isError: true } : {}) };
  };
}

/** Runs `fn` over the items, at most `concurrency` at once, results in the items' order. */
export async function runPool<T, R>(items: T[], concurrency: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
  return results;
}
