import type { RunRecord } from '../core/ports';
import { runView } from '../core/run-view';
import { eraseThread, MAX_TITLE_CHARS, MULTITASK, newThreadId, startThreadRun, threadView } from '../core/threads';
import * as z from '../core/validation';
import { admitNewRun } from './admin-routes';
import { type ApiDeps, type ApiRequest, type ApiResponse, HttpError, json } from './http';
import { assertPriced, checkOutputSchema, eraseDepsOf, outputSpecOf, pageLimit, readJsonBody, StartRunBody, threadsOf, validIdempotencyKey } from './request-checks';

/**
 * The thread routes (docs/api.md "Threads"): POST/GET /threads, GET/DELETE /threads/{id}, POST /threads/{id}/runs.
 * A thread is its owner's only: another user's thread is a 404 on every route, as no thread at all.
 */

export const CreateThreadBody = z.strictObject({
  title: z.optional(z.nullable(z.string().check(z.trim(), z.maxLength(MAX_TITLE_CHARS, `must be at most ${MAX_TITLE_CHARS} characters`)))),
});

/** POST /threads/{id}/runs: POST /runs's body and `multitask` (built on first use: routes.ts imports this module). */
let threadRunBody: ReturnType<typeof buildThreadRunBody> | undefined;
const buildThreadRunBody = () => z.extend(StartRunBody, { multitask: z.optional(z.enum(MULTITASK)) });
export const threadRunBodySchema = () => {
  threadRunBody ??= buildThreadRunBody();
  return threadRunBody;
};

async function ownThread(deps: ApiDeps, userId: string, threadId: string) {
  const thread = await threadsOf(deps).getThread(userId, threadId);
  // Someone else's thread is not under the caller's key: indistinguishable from no thread.
  if (!thread || thread.deleting) throw new HttpError(404, 'NOT_FOUND', 'no such thread');
  return thread;
}

/** POST /threads {title?} → 201 {threadId}. */
export async function createThread(deps: ApiDeps, req: ApiRequest, userId: string): Promise<ApiResponse> {
  const raw = req.body === null || req.body === '' ? {} : readJsonBody(req, '{"title"?: string}');
  const parsed = CreateThreadBody.safeParse(raw);
  if (!parsed.success) {
    const msg = parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
    throw new HttpError(422, 'INVALID_REQUEST', `${msg} (allowed: {"title"?: string of at most ${MAX_TITLE_CHARS} characters})`);
  }
  const thread = await threadsOf(deps).createThread({ threadId: newThreadId(), owner: userId, title: parsed.data.title || null });
  return json(201, { threadId: thread.threadId, title: thread.title, createdAt: thread.createdAt });
}

/** GET /threads?limit=&cursor= → the caller's threads, newest first. */
export async function listThreads(deps: ApiDeps, req: ApiRequest, userId: string): Promise<ApiResponse> {
  const limit = pageLimit(req.query?.limit);
  try {
    const page = await threadsOf(deps).listThreads(userId, { limit, cursor: req.query?.cursor });
    const threads = page.threads
      .filter((t) => !t.deleting)
      .map((t) => ({ threadId: t.threadId, title: t.title, createdAt: t.createdAt, updatedAt: t.updatedAt, runs: t.runIds.length, activeRunId: t.activeRunId ?? null }));
    return json(200, { threads, nextCursor: page.nextCursor });
  } catch (err) {
    if ((err as Error).message === 'invalid cursor' || (err as { name?: string }).name === 'ValidationException') {
      throw new HttpError(400, 'INVALID_CURSOR', 'cursor must be the nextCursor of a previous page');
    }
    throw err;
  }
}

/** GET /threads/{id} → the thread with its runs (oldest first), its queue and its usage. */
export async function getThread(deps: ApiDeps, _req: ApiRequest, userId: string, threadId: string): Promise<ApiResponse> {
  const thread = await ownThread(deps, userId, threadId);
  const runs = await Promise.all(thread.runIds.map((id) => deps.runs.getRun(id)));
  return json(
    200,
    threadView(thread, runs, (r: RunRecord) => runView(r)),
  );
}

/** DELETE /threads/{id} → 204: its active run cancelled, every item of its runs and the thread erased. */
export async function deleteThread(deps: ApiDeps, _req: ApiRequest, userId: string, threadId: string): Promise<ApiResponse> {
  const erased = await eraseThread(eraseDepsOf(deps), userId, threadId);
  if (!erased) throw new HttpError(404, 'NOT_FOUND', 'no such thread');
  return { statusCode: 204, headers: {}, body: '' };
}

/** DELETE /threads/{id}/queue/{runId}: the run id of the path. */
const QUEUED_RUN_PATH = /^\/threads\/[^/]+\/queue\/([A-Za-z0-9_-]{1,80})$/;

/**
 * DELETE /threads/{id}/queue/{runId} → 204: a run queued with `multitask: "enqueue"` is dropped before it starts
 * (one conditional write on the thread item; it never starts). 404 when it is not waiting there: a run that has
 * started is cancelled with POST /runs/{id}/cancel.
 */
export async function dropQueuedRun(deps: ApiDeps, req: ApiRequest, userId: string, threadId: string): Promise<ApiResponse> {
  const runId = QUEUED_RUN_PATH.exec(req.path.replace(/\/+$/, ''))?.[1];
  await ownThread(deps, userId, threadId);
  const dropped = runId ? await threadsOf(deps).dequeue(userId, threadId, runId) : undefined;
  if (!dropped)
    throw new HttpError(
      404,
      'NOT_FOUND',
      `no run ${runId ?? ''} waiting in thread ${threadId}'s queue (GET /threads/{id} lists it under "queued"; a run that has started is cancelled with POST /runs/{id}/cancel)`,
    );
  return { statusCode: 204, headers: {}, body: '' };
}

/** POST /threads/{id}/runs {input, budgets?, multitask?} → 202 {runId, threadId} (200 for a replayed Idempotency-Key). */
export async function startThreadRunRoute(deps: ApiDeps, req: ApiRequest, userId: string, threadId: string): Promise<ApiResponse> {
  const key = validIdempotencyKey(req);
  const raw = readJsonBody(req, '{"input": "<prompt>"}');
  const parsed = threadRunBodySchema().safeParse(raw);
  if (!parsed.success) {
    const msg = parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
    throw new HttpError(
      422,
      'INVALID_REQUEST',
      `${msg} (allowed: {"input": string, "budgets"?: {"maxSteps"?: int, "maxTokens"?: int, "maxCostUsd"?: number}, "outputSchema"?: {JSON Schema}, "multitask"?: ${MULTITASK.map((m) => `"${m}"`).join(' | ')}})`,
    );
  }
  assertPriced(deps, parsed.data.budgets);
  checkOutputSchema(parsed.data.outputSchema);
  await ownThread(deps, userId, threadId);
  await admitNewRun(deps, userId);
  const out = await startThreadRun(
    { runs: deps.runs, threads: threadsOf(deps), control: deps.control, budgets: deps.config.budgets, newRunId: deps.newRunId },
    {
      userId,
      threadId,
      input: parsed.data.input,
      budgets: parsed.data.budgets,
      idempotencyKey: key,
      multitask: parsed.data.multitask,
      ...outputSpecOf(deps, parsed.data.outputSchema),
    },
  );
  const body = { runId: out.runId, threadId, ...(out.queued ? { queued: true } : {}) };
  return out.replayed ? json(200, body, { 'idempotent-replayed': 'true' }) : json(202, body);
}
