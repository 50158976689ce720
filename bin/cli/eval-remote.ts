import { caseResult, type EvalCase, observe, runPool } from '../../lambdas/core/eval';
import { judgeAnswer } from '../../lambdas/core/eval-judge';
import { priceOf } from '../../lambdas/core/pricing';
import { parseTraceEvent, type TraceEvent } from '../../lambdas/core/trace';
import { ACTIVE_STATUSES, type ModelProvider, type RunView } from '../../lambdas/core/types';
import { createProvider } from '../../lambdas/providers';
import type { AgentConfig } from '../../lib/config';
import { type ApiTarget, callApi } from './client';

export interface RemoteSuiteOptions {
  target: ApiTarget;
  /** The config whose primary model judges (`expect.judge`). */
  config: AgentConfig;
  cases: EvalCase[];
  concurrency: number;
  onCase?: (run: { result: ReturnType<typeof caseResult>; run: RunView | null; events: TraceEvent[] }) => void;
  /** The longest wait between two reads of a run under way (the first is a tenth of it, doubling). @default 1000 */
  pollMs?: number;
  /** A run still under way after this long fails its case. @default 30 minutes */
  timeoutMs?: number;
}

/**
 * Runs a suite against a deployed stack (`agent eval --api`): each case through the HTTP API (POST /runs with its
 * budgets and outputSchema, then GET /runs/{id} until it ends, then its trace). Fixtures replay tools only offline:
 * a case with fixtures fails here, saying so.
 */
export async function runSuiteRemote(options: RemoteSuiteOptions) {
  const { target } = options;
  const pollMs = options.pollMs ?? 1000;
  const timeoutMs = options.timeoutMs ?? 30 * 60_000;
  let judge: ModelProvider | undefined;
  return runPool(options.cases, options.concurrency, async (c) => {
    const started = Date.now();
    let run: RunView | null = null;
    let events: TraceEvent[] = [];
    let error: string | undefined;
    if (c.fixtures) error = 'this case has fixtures, which replay tool results in the offline engine only: run it without --api';
    else {
      try {
        const body = { input: c.input, ...(c.budgets ? { budgets: c.budgets } : {}), ...(c.outputSchema ? { outputSchema: c.outputSchema } : {}) };
        const { runId } = await callApi<{ runId: string }>(target, 'POST', '/runs', body);
        let wait = Math.max(1, Math.round(pollMs / 10));
        for (;;) {
          run = await callApi<RunView>(target, 'GET', `/runs/${encodeURIComponent(runId)}`);
          if (!ACTIVE_STATUSES.includes(run.status)) break;
          if (Date.now() - started > timeoutMs) {
            error = `the run was still ${run.status} after ${Math.round(timeoutMs / 1000)} s`;
            break;
          }
          await new Promise((r) => setTimeout(r, wait));
          wait = Math.min(pollMs, wait * 2);
        }
        events = (await callApi<{ events: Record<string, unknown>[] }>(target, 'GET', `/runs/${encodeURIComponent(runId)}/trace`)).events.map(parseTraceEvent);
      } catch (err) {
        error = `the run could not be made: ${(err as Error).message}`;
      }
    }
    const ms = Date.now() - started;
    const observed = observe(run, events, { error });
    let verdict: Awaited<ReturnType<typeof judgeAnswer>> | undefined;
    if (c.expect.judge) {
      judge ??= createProvider(options.config.models.primary);
      verdict = await judgeAnswer(judge, priceOf(options.config.models.primary, options.config.pricing)?.price, {
        rubric: c.expect.judge,
        input: c.input,
        answer: observed.answer,
      });
    }
    const done = { result: caseResult(c, observed, ms, run?.runId ?? null, verdict), run, events };
    options.onCase?.(done);
    return done;
  });
}
