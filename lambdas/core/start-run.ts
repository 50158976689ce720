import { randomUUID } from 'node:crypto';
import { type Budgets, effectiveBudgets } from './budget';
import { StartFailed } from './errors';
import type { OutputSpec } from './output';
import type { ApiRunRepository, RunControl, RunRecord, RunRepository } from './ports';
import { trace } from './trace';

/** What starting a run needs from the run store (lambdas/store/run-store.ts). */
export type RunStarter = Pick<ApiRunRepository, 'createRun' | 'finalizeRun' | 'appendEvent' | 'claimIdempotencyKey' | 'releaseIdempotencyKey'>;

export interface NewRun {
  userId: string;
  input: string;
  /** Requested budgets: each may only lower the deployment's (the one budget policy: a raise is refused). */
  budgets?: Partial<Budgets>;
  idempotencyKey?: string;
  runId?: string;
  /** The JSON Schema the final answer must satisfy (checked by the caller: ./output.ts schemaProblem). */
  outputSchema?: OutputSpec;
}

/**
 * The one way a run record comes to exist, with the one budget policy (lambdas/core/budget.ts effectiveBudgets:
 * a request may lower a budget, a raise is a BadRequest naming the ceiling). Used by startRun (API and CLI) and by
 * LoadRun for an execution started without the API.
 */
export async function createRunRecord(
  runs: Pick<RunRepository, 'createRun'>,
  deployment: Budgets,
  run: { runId: string; userId: string; input: string; budgets?: Partial<Budgets>; outputSchema?: OutputSpec },
): Promise<RunRecord> {
  const budgets = effectiveBudgets(deployment, run.budgets);
  return (await runs.createRun({ runId: run.runId, userId: run.userId, input: run.input, ...budgets, ...(run.outputSchema ? { outputSchema: run.outputSchema } : {}) })).run;
}

/**
 * Starts a run (POST /runs, `agent run`): budgets checked, the Idempotency-Key claimed, the run created, its
 * execution started. All or nothing from the caller's view: when the start fails, the run is closed FAILED
 * (START_FAILED), the key is released and StartFailed is thrown, so the same request with the same key can be
 * retried to a real start. A replayed key returns the run it started (replayed: true).
 */
export async function startRun(
  deps: { runs: RunStarter; control: Pick<RunControl, 'start'>; budgets: Budgets; newRunId?: () => string },
  req: NewRun,
): Promise<{ runId: string; replayed: boolean }> {
  // Refuse a raise before anything is written.
  effectiveBudgets(deps.budgets, req.budgets);
  let runId = req.runId ?? (deps.newRunId ?? randomUUID)();
  if (req.idempotencyKey !== undefined) {
    const claim = await deps.runs.claimIdempotencyKey(req.userId, req.idempotencyKey, runId);
    if (!claim.claimed) return { runId: claim.runId, replayed: true };
    runId = claim.runId;
  }
  await createRunRecord(deps.runs, deps.budgets, { runId, userId: req.userId, input: req.input, budgets: req.budgets, outputSchema: req.outputSchema });
  try {
    await deps.control.start({ runId, userId: req.userId });
  } catch (err) {
    const reason = `${(err as Error).name}: ${(err as Error).message}`;
    await deps.runs.finalizeRun(runId, { status: 'FAILED', answer: `The run could not be started (${reason}). Retry the request.`, stopReason: 'START_FAILED' });
    await deps.runs.appendEvent(runId, trace.startFailed({ step: 0, error: reason }));
    if (req.idempotencyKey !== undefined) await deps.runs.releaseIdempotencyKey(req.userId, req.idempotencyKey, runId);
    throw new StartFailed(`the run's execution could not be started (${reason}); retry the request (the same Idempotency-Key is fine)`, { cause: err });
  }
  return { runId, replayed: false };
}
