import type { AgentConfig } from '../core/config';
import { ApprovalExpired, BadRequest, Conflict, IdempotencyKeyReused, StartFailed, ThreadBusy } from '../core/errors';
import type { RunPage, RunRecord } from '../core/ports';
import { runView } from '../core/run-view';
import { startRun as startRunOf } from '../core/start-run';
import * as z from '../core/validation';
import { adminRoutes, admitNewRun, handleAdmin, isAdminPath, readableRun } from './admin-routes';
import { type ApiDeps, type ApiRequest, type ApiResponse, errorResponse, HttpError, json, MAX_PAGE_SIZE } from './http';
import { assertPriced, checkedBody, checkOutputSchema, outputSpecOf, pathParam, readJsonBody, StartRunBody, validIdempotencyKey } from './request-checks';
import * as threads from './thread-routes';

export { type ApiDeps, type ApiRequest, type ApiResponse, HttpError, MAX_PAGE_SIZE } from './http';
export { MAX_BODY_BYTES, MAX_INPUT_CHARS, StartRunBody } from './request-checks';

/** Run ids are UUIDs or similar: letters, digits, - and _ only, so nothing else ever reaches the table. */
const RUN_ID = /^[A-Za-z0-9_-]{1,80}$/;

export { errorResponse } from './http';

type Handler = (deps: ApiDeps, req: ApiRequest, userId: string, runId: string) => Promise<ApiResponse>;

/** POST /runs/{id}/approvals/{toolCallId}. */
const APPROVAL_PATH = /^\/runs\/([^/]+)\/approvals\/([^/]+)$/;

/** A path template (`/runs/{id}`) as a pattern: each `{name}` one path segment, captured. */
export function pathPattern(template: string): RegExp {
  return new RegExp(`^${template.replace(/\{[^/}]+\}/g, '([^/]+)')}$`);
}

/** The route table: path template → method → handler. */
const ROUTES: { path: string; methods: Record<string, Handler> }[] = [
  { path: '/runs', methods: { POST: (d, r, u) => startRun(d, r, u), GET: (d, r, u) => listRuns(d, r, u) } },
  { path: '/runs/{id}', methods: { GET: async (d, r, u, id) => json(200, runView(await readableRun(d, r, u, id, 'run'))) } },
  {
    path: '/runs/{id}/trace',
    methods: {
      GET: async (d, r, u, id) => {
        await readableRun(d, r, u, id, 'trace');
        return json(200, { events: await d.runs.listEvents(id) });
      },
    },
  },
  { path: '/runs/{id}/pause', methods: { POST: (d, _r, u, id) => steer(d, u, id, 'pause') } },
  { path: '/runs/{id}/resume', methods: { POST: (d, _r, u, id) => steer(d, u, id, 'resume') } },
  { path: '/runs/{id}/cancel', methods: { POST: (d, _r, u, id) => steer(d, u, id, 'cancel') } },
  { path: '/runs/{id}/approvals/{toolCallId}', methods: { POST: (d, r, u, id) => decide(d, r, u, id) } },
  { path: '/threads', methods: { POST: (d, r, u) => threads.createThread(d, r, u), GET: (d, r, u) => threads.listThreads(d, r, u) } },
  { path: '/threads/{id}', methods: { GET: (d, r, u, id) => threads.getThread(d, r, u, id), DELETE: (d, r, u, id) => threads.deleteThread(d, r, u, id) } },
  { path: '/threads/{id}/runs', methods: { POST: (d, r, u, id) => threads.startThreadRunRoute(d, r, u, id) } },
  { path: '/threads/{id}/queue/{runId}', methods: { DELETE: (d, r, u, id) => threads.dropQueuedRun(d, r, u, id) } },
];
const PATTERNS = ROUTES.map((r) => ({ ...r, pattern: pathPattern(r.path) }));

/** The routes the API handler serves without a caller (lambdas/handlers/api.ts): the viewer page and sign-in settings. */
export const PUBLIC_ROUTES = ['GET /', 'GET /config'] as const;

/** The routes another function answers through a streaming integration (lambdas/handlers/run-events.ts). */
export const STREAMED_ROUTES = ['GET /runs/{id}/events'] as const;

/**
 * Every route of the API, as `METHOD /path/{param}`: the API handler's, and the streamed ones. The REST API in
 * lib/api.ts must define each of them (API Gateway answers 403 for a route it lacks; test/local/api-gateway.test.ts
 * holds the two together).
 */
export function servedRoutes(auth: AgentConfig['api']['auth'] = 'cognito'): string[] {
  return [...PUBLIC_ROUTES, ...ROUTES.flatMap((r) => Object.keys(r.methods).map((m) => `${m} ${r.path}`)), ...STREAMED_ROUTES, ...adminRoutes(auth)];
}

/** The API's routes: one implementation behind API Gateway and the local server. */
export async function handleApi(deps: ApiDeps, req: ApiRequest): Promise<ApiResponse> {
  try {
    const path = req.path.length > 1 ? req.path.replace(/\/+$/, '') : req.path;
    if (isAdminPath(path)) return await handleAdmin(deps, req, path);
    const route = PATTERNS.find((r) => r.pattern.test(path));
    if (!route)
      throw new HttpError(
        404,
        'NOT_FOUND',
        `no route ${req.method} ${req.path}; routes: /runs, /runs/{id}, /runs/{id}/trace, /runs/{id}/pause|resume|cancel, /runs/{id}/approvals/{toolCallId}, /threads, /threads/{id}, /threads/{id}/runs, /threads/{id}/queue/{runId}`,
      );
    const handler = route.methods[req.method.toUpperCase()];
    const allow = Object.keys(route.methods).join(', ');
    if (!handler) throw new HttpError(405, 'METHOD_NOT_ALLOWED', `${req.method} is not allowed here; allowed: ${allow}`, { allow });
    if (!req.userId) throw new HttpError(401, 'UNAUTHORIZED', 'a valid bearer token is required (Authorization: Bearer <token>)');
    const runId = pathParam(path, route.pattern);
    if (route.pattern.exec(path)?.[1] !== undefined) {
      // Anything that is not a well-formed id is no run at all (and never reaches the table).
      if (!RUN_ID.test(runId)) throw new HttpError(404, 'NOT_FOUND', path.startsWith('/threads/') ? 'no such thread' : 'no such run');
    }
    return await handler(deps, req, req.userId, runId);
  } catch (err) {
    if (err instanceof HttpError) return errorResponse(err);
    // ThreadBusy is a Conflict: tested first.
    if (err instanceof ThreadBusy) return errorResponse(new HttpError(409, 'THREAD_BUSY', err.message));
    if (err instanceof Conflict) return errorResponse(new HttpError(409, 'CONFLICT', err.message));
    if (err instanceof ApprovalExpired) return errorResponse(new HttpError(409, 'APPROVAL_EXPIRED', err.message));
    if (err instanceof IdempotencyKeyReused) return errorResponse(new HttpError(422, 'IDEMPOTENCY_KEY_REUSED', err.message));
    if (err instanceof BadRequest) return errorResponse(new HttpError(422, 'INVALID_REQUEST', err.message));
    if (err instanceof StartFailed) return errorResponse(new HttpError(503, 'START_FAILED', err.message, { 'retry-after': '1' }));
    throw err;
  }
}

async function ownRun(deps: ApiDeps, runId: string, userId: string): Promise<RunRecord> {
  const run = await deps.runs.getRun(runId);
  // Someone else's run is indistinguishable from no run.
  if (!run || run.userId !== userId) throw new HttpError(404, 'NOT_FOUND', 'no such run');
  return run;
}

async function steer(deps: ApiDeps, userId: string, runId: string, action: 'pause' | 'resume' | 'cancel'): Promise<ApiResponse> {
  await ownRun(deps, runId, userId);
  await deps.control[action](runId);
  return json(202, { runId, action });
}

/** Tool call ids as models mint them: letters, digits and a few separators. */
const TOOL_CALL_ID = /^[A-Za-z0-9_.:-]{1,128}$/;

export const DecisionBody = z.strictObject({
  decision: z.enum(['approve', 'reject']),
  reason: z.optional(z.string().check(z.maxLength(1000, 'must be at most 1000 characters'))),
});

/** POST /runs/{id}/approvals/{toolCallId}: the run's owner (or an admin) approves or rejects a waiting call. */
async function decide(deps: ApiDeps, req: ApiRequest, userId: string, runId: string): Promise<ApiResponse> {
  const run = await deps.runs.getRun(runId);
  if (!run || (run.userId !== userId && !req.isAdmin)) throw new HttpError(404, 'NOT_FOUND', 'no such run');
  const toolCallId = pathParam(req.path, APPROVAL_PATH, 2);
  if (!TOOL_CALL_ID.test(toolCallId)) throw new HttpError(404, 'NOT_FOUND', 'no such tool call');
  const body = checkedBody(readJsonBody(req, '{"decision": "approve"}'), DecisionBody, '{"decision": "approve" | "reject", "reason"?: string}');
  const { remaining } = await deps.control.decide(runId, toolCallId, { ...body, decidedBy: userId });
  return json(202, { runId, toolCallId, decision: body.decision, remaining });
}

async function listRuns(deps: ApiDeps, req: ApiRequest, userId: string): Promise<ApiResponse> {
  const limitText = req.query?.limit;
  // Decimal digits only: Number() would also take "0x10", "1e1", " 5", "0b11".
  const limit = limitText === undefined ? 20 : /^[0-9]{1,3}$/.test(limitText) ? Number(limitText) : Number.NaN;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE) {
    throw new HttpError(400, 'INVALID_QUERY', `limit must be a whole number from 1 to ${MAX_PAGE_SIZE}`);
  }
  const cursor = req.query?.cursor;
  let page: RunPage;
  try {
    page = await deps.runs.listRunsByUser(userId, { limit, cursor });
  } catch (err) {
    if ((err as Error).message === 'invalid cursor' || (err as { name?: string }).name === 'ValidationException') {
      throw new HttpError(400, 'INVALID_CURSOR', 'cursor must be the nextCursor of a previous page');
    }
    throw err;
  }
  // A cursor only ever pages through its own user's runs.
  const runs = page.runs.filter((r) => r.userId === userId).map(runView);
  return json(200, { runs, nextCursor: page.nextCursor });
}

async function startRun(deps: ApiDeps, req: ApiRequest, userId: string): Promise<ApiResponse> {
  const raw = readJsonBody(req, '{"input": "<prompt>"}');
  const key = validIdempotencyKey(req);
  const body = checkedBody(raw, StartRunBody, '{"input": string, "budgets"?: {"maxSteps"?: int, "maxTokens"?: int, "maxCostUsd"?: number}, "outputSchema"?: {JSON Schema}}');
  const outputSchema = body.outputSchema;
  checkOutputSchema(outputSchema);
  assertPriced(deps, body.budgets);
  await admitNewRun(deps, userId);
  const { runId, replayed } = await startRunOf(
    { runs: deps.runs, control: deps.control, budgets: deps.config.budgets, newRunId: deps.newRunId },
    { userId, input: body.input, budgets: body.budgets, idempotencyKey: key, ...outputSpecOf(deps, outputSchema) },
  );
  return replayed ? json(200, { runId }, { 'idempotent-replayed': 'true' }) : json(202, { runId });
}
