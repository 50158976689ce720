import { z } from 'zod';
import { MAX_OUTPUT_SCHEMA_BYTES, schemaProblem } from './output';
import { canonicalJson } from './signature';
import { ofKind } from './trace';
import { RUN_STATUSES, type RunView, type TraceEvent, type Usage } from './types';

/**
 * Evals (docs/evals.md): a suite of cases, each a real run with expectations on its outcome. These modules are the
 * pure part, so the CLI and the offline runner only wire them: here the suite's schema and checking a finished run
 * against its expectations; ./eval-report.ts the figures, the baseline comparison and the exit decision;
 * ./eval-fixtures.ts recorded tool results; ./eval-judge.ts the optional judge.
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
  /** As POST /runs takes it: a JSON Schema (at most 16 KB serialized) the answer must satisfy (docs/agent.md). */
  outputSchema: z
    .record(z.string(), z.unknown())
    .superRefine((schema, ctx) => {
      const size = Buffer.byteLength(JSON.stringify(schema), 'utf8');
      const problem = size > MAX_OUTPUT_SCHEMA_BYTES ? `must be at most ${MAX_OUTPUT_SCHEMA_BYTES} bytes serialized (got ${size})` : schemaProblem(schema);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    })
    .optional(),
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
export const quote = (s: string, max = 80) => JSON.stringify(s.length > max ? `${s.slice(0, max)}…` : s);

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
    if (run.output === undefined || run.output === null)
      fail('output', 'the run has no structured output (give the case an outputSchema; the deployment must return `output` on the run)');
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
    output: run?.output ?? undefined,
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

/** The judge's verdict on one answer, and what asking it cost. */
export interface JudgeResult {
  passed: boolean;
  reason: string;
  usage: Usage;
  costUsd: number;
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
