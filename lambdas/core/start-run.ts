import { createHash, randomUUID } from 'node:crypto';
import { type Budgets, effectiveBudgets } from './budget';
import { IdempotencyKeyReused, StartFailed } from './errors';
import type { OutputSpec } from './output';
import type { ApiRunRepository, RunControl, RunRecord, RunRepository } from './ports';
import { trace } from './trace';

/** What starting a run needs from the run store (lambdas/store/run-store.ts). */
export type RunStarter = Pick<ApiRunRepository, 'getRun' | 'createRun' | 'finalizeRun' | 'appendEvent' | 'claimIdempotencyKey' | 'releaseIdempotencyKey'>;

export interface NewRun {
  userId: string;
  input: string;
  /** Requested budgets: each may only lower the deployment's (the one budget policy: a raise is refused). */
  budgets?: Partial<Budgets>;
  idempotencyKey?: string;
  runId?: string;
  /** The JSON Schema the final answer must satisfy (checked by the caller: ./output.ts schemaProblem). */
  outputSchema?: OutputSpec;
  /** A thread run's thread (part of the request an Idempotency-Key is bound to; `admit` takes its lock). */
  threadId?: string;
  /**
   * A thread run: called once the run id is settled (the key claimed) and before anything is written; it takes the
   * thread's lock and names the thread and its history, or queues the run (`start: false`: nothing more is written
   * now). When it throws, the claimed key is released and nothing was written (lambdas/core/threads.ts).
   */
  admit?: (runId: string) => Promise<{ start: true; thread: RunThread } | { start: false }>;
}

/** The thread of a thread run: its id and the runs before this one (the history it starts from, referenced). */
export interface RunThread {
  threadId: string;
  history: string[];
}

/**
 * The one way a run record comes to exist, with the one budget policy (lambdas/core/budget.ts effectiveBudgets:
 * a request may lower a budget, a raise is a BadRequest naming the ceiling). Used by startRun (API and CLI) and by
 * LoadRun for an execution started without the API.
 */
export async function createRunRecord(
  runs: Pick<RunRepository, 'createRun'>,
  deployment: Budgets,
  run: { runId: string; userId: string; input: string; budgets?: Partial<Budgets>; outputSchema?: OutputSpec; thread?: RunThread },
): Promise<RunRecord> {
  return (await createRunOnce(runs, deployment, run)).run;
}

/** createRunRecord, saying whether this call wrote the run (`created`) or found it there. */
async function createRunOnce(
  runs: Pick<RunRepository, 'createRun'>,
  deployment: Budgets,
  run: { runId: string; userId: string; input: string; budgets?: Partial<Budgets>; outputSchema?: OutputSpec; thread?: RunThread },
): Promise<{ run: RunRecord; created: boolean }> {
  const budgets = effectiveBudgets(deployment, run.budgets);
  return runs.createRun({
    runId: run.runId,
    userId: run.userId,
    input: run.input,
    ...budgets,
    ...(run.outputSchema ? { outputSchema: run.outputSchema } : {}),
    ...(run.thread ? { threadId: run.thread.threadId, history: run.thread.history } : {}),
  });
}

/**
 * What an Idempotency-Key is bound to besides the run: a digest of the request (every field of it but the caller,
 * the key, the run id and the thread's admission, keys sorted; a thread run's `threadId` is part of it), so that the
 * same key sent with another request is told apart (422).
 */
export function requestFingerprint(req: NewRun): string {
  const { userId: _u, idempotencyKey: _k, runId: _r, admit: _a, ...request } = req;
  return createHash('sha256').update(canonicalJson(request)).digest('hex');
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * Starts a run (POST /runs, `agent run`): budgets checked, the Idempotency-Key claimed, the run created, its
 * execution started. All or nothing from the caller's view: when the start fails, the run is closed FAILED
 * (START_FAILED), the key is released and StartFailed is thrown, so the same request with the same key can be
 * retried to a real start. A replayed key returns the run it started (replayed: true); the same key with another
 * request is IdempotencyKeyReused.
 *
 * No crash leaves a key pointing at nothing (docs/durability.md): the claim and the run are two writes, so a
 * process that dies between them leaves a claim whose run was never written. The next request with that key finds
 * the claim without its run and writes the run itself, under the claimed runId. The run's write is conditional,
 * so whichever request writes it (the claimer, or one that found the claim early) is the one that starts its
 * execution: one run, one execution per key.
 *
 * Nor a run without an execution: a process that dies after writing the run but before StartExecution (or before
 * recording the execution's ARN) leaves a RUNNING run that nothing runs. The next request with the key starts it
 * ({@link ensureExecution}); the execution's name is the runId, and StartExecution with the name and input of a
 * running execution returns that execution, so two such requests (or one racing the original) start one execution.
 */
export async function startRun(
  deps: { runs: RunStarter; control: Pick<RunControl, 'start'>; budgets: Budgets; newRunId?: () => string },
  req: NewRun,
): Promise<{ runId: string; replayed: boolean; queued: boolean }> {
  // Refuse a raise before anything is written.
  effectiveBudgets(deps.budgets, req.budgets);
  let runId = req.runId ?? (deps.newRunId ?? randomUUID)();
  let replay = false;
  if (req.idempotencyKey !== undefined) {
    const fingerprint = requestFingerprint(req);
    const claim = await deps.runs.claimIdempotencyKey(req.userId, req.idempotencyKey, runId, fingerprint);
    // A claim made before fingerprints were kept matches any request.
    if (!claim.claimed && claim.fingerprint !== undefined && claim.fingerprint !== fingerprint) {
      throw new IdempotencyKeyReused('this Idempotency-Key was already used with a different request; send the same request to get its run, or use a new key for a new request');
    }
    const existing = claim.claimed ? undefined : await deps.runs.getRun(claim.runId);
    if (existing) {
      await ensureExecution(deps.control, existing);
      return { runId: claim.runId, replayed: true, queued: false };
    }
    replay = !claim.claimed;
    runId = claim.runId;
  }
  // A thread run takes the thread's lock first (or queues); admit answers the same for a replayed key's run.
  let thread: RunThread | undefined;
  if (req.admit) {
    let admitted: Awaited<ReturnType<NonNullable<NewRun['admit']>>>;
    try {
      admitted = await req.admit(runId);
    } catch (err) {
      if (req.idempotencyKey !== undefined && !replay) await deps.runs.releaseIdempotencyKey(req.userId, req.idempotencyKey, runId);
      throw err;
    }
    if (!admitted.start) return { runId, replayed: replay, queued: true };
    thread = admitted.thread;
  }
  const { created } = await createRunOnce(deps.runs, deps.budgets, { runId, userId: req.userId, input: req.input, budgets: req.budgets, outputSchema: req.outputSchema, thread });
  // Another request with the same key wrote the run first: it starts the execution.
  if (!created) return { runId, replayed: req.idempotencyKey !== undefined, queued: false };
  try {
    await deps.control.start({ runId, userId: req.userId });
  } catch (err) {
    const reason = `${(err as Error).name}: ${(err as Error).message}`;
    await deps.runs.finalizeRun(runId, { status: 'FAILED', answer: `The run could not be started (${reason}). Retry the request.`, stopReason: 'START_FAILED' });
    await deps.runs.appendEvent(runId, trace.startFailed({ step: 0, error: reason }));
    if (req.idempotencyKey !== undefined) await deps.runs.releaseIdempotencyKey(req.userId, req.idempotencyKey, runId);
    throw new StartFailed(`the run's execution could not be started (${reason}); retry the request (the same Idempotency-Key is fine)`, { cause: err });
  }
  return { runId, replayed: false, queued: false };
}

/**
 * A replayed key's run that is RUNNING with no execution recorded (never started from the checkpoint either) gets its
 * execution: StartExecution under the run's deterministic name. If the execution exists (the original request is
 * starting it right now, or it started and the ARN was never recorded), Step Functions returns it while it runs, or
 * answers ExecutionAlreadyExists once it has closed: either way the run has its one execution. Any other failure is
 * StartFailed (retryable): the run is left as it was, for the next retry.
 */
export async function ensureExecution(control: Pick<RunControl, 'start'>, run: Pick<RunRecord, 'runId' | 'userId' | 'status' | 'executionArn' | 'resumes'>): Promise<boolean> {
  if (run.status !== 'RUNNING' || run.executionArn || run.resumes) return false;
  try {
    await control.start({ runId: run.runId, userId: run.userId });
  } catch (err) {
    if ((err as { name?: string }).name === 'ExecutionAlreadyExists') return false;
    const reason = `${(err as Error).name}: ${(err as Error).message}`;
    throw new StartFailed(`run ${run.runId} has no execution yet and it could not be started (${reason}); retry the request with the same Idempotency-Key`, { cause: err });
  }
  return true;
}
