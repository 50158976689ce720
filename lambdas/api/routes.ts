import type { AgentConfig } from '../core/config';
import { AgentError } from '../core/errors';
import type { RunPage, RunRecord } from '../core/ports';
import { runView } from '../core/run-view';
import { startRun as startRunOf } from '../core/start-run';
import * as z from '../core/validation';
import { adminRoutes, admitNewRun, handleAdmin, isAdminPath, readableRun } from './admin-routes';
import { type ApiDeps, type ApiRequest, type ApiResponse, HttpError, MAX_PAGE_SIZE } from './http';
import { assertPriced, checkOutputSchema, IDEMPOTENCY_KEY, MAX_BODY_BYTES, outputSpecOf, StartRunBody } from './request-checks';
import * as threads from './thread-routes';

export { type ApiDeps, type ApiRequest, type ApiResponse, HttpError, MAX_PAGE_SIZE } from './http';
export { MAX_BODY_BYTES, MAX_INPUT_CHARS, StartRunBody } from './request-checks';

/** Run ids are UUIDs or similar: letters, digits, - and _ only, so nothing else ever reaches the table. */
const RUN_ID = /^[A-Za-z0-9_-]{1,80}$/;

const json = (statusCode: number, body: unknown, headers: Record<string, string> = {}): ApiResponse => ({
  statusCode,
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
});

/** Renders any error the routes raise as CONTRACT.md's `{"error": {"code", "message"}}`. */
export function errorResponse(err: HttpError): ApiResponse {
  return json(err.statusCode, { error: { code: err.code, message: err.message } }, err.headers);
}

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
    if (!route) throw new HttpError(404, 'NOT_FOUND', `no route ${req.method} ${req.path}; routes: /runs, /runs/{id}, /runs/{id}/trace, /runs/{id}/pause|resume|cancel, /runs/{id}/approvals/{toolCallId}, /threads, /threads/{id}, /threads/{id}/runs, /threads/{id}/queue/{runId}`);
    const handler = route.methods[req.method.toUpperCase()];
    const allow = Object.keys(route.methods).join(', ');
    if (!handler) throw new HttpError(405, 'METHOD_NOT_ALLOWED', `${req.method} is not allowed here; allowed: ${allow}`, { allow });
    if (!req.userId) throw new HttpError(401, 'UNAUTHORIZED', 'a valid bearer token is required (Authorization: Bearer <token>)');
    let runId = '';
    const encoded = route.pattern.exec(path)?.[1];
    if (encoded !== undefined) {
      try {
        runId = decodeURIComponent(encoded);
      } catch {
        runId = '';
      }
      // Anything that is not a well-formed id is no run at all (and never reaches the table).
      if (!RUN_ID.test(runId)) throw new HttpError(404, 'NOT_FOUND', path.startsWith('/threads/') ? 'no such thread' : 'no such run');
    }
    return await handler(deps, req, req.userId, runId);
  } catch (err) {
    if (err instanceof HttpError) return errorResponse(err);
    if (err instanceof AgentError && err.name === 'ThreadBusy') return errorResponse(new HttpError(409, 'THREAD_BUSY', err.message));
    if (err instanceof AgentError && err.name === 'Conflict') return errorResponse(new HttpError(409, 'CONFLICT', err.message));
    if (err instanceof AgentError && err.name === 'ApprovalExpired') return errorResponse(new HttpError(409, 'APPROVAL_EXPIRED', err.message));
    if (err instanceof AgentError && err.name === 'IdempotencyKeyReused') return errorResponse(new HttpError(422, 'IDEMPOTENCY_KEY_REUSED', err.message));
    if (err instanceof AgentError && err.name === 'BadRequest') return errorResponse(new HttpError(422, 'INVALID_REQUEST', err.message));
    if (err instanceof AgentError && err.name === 'StartFailed') return errorResponse(new HttpError(503, 'START_FAILED', err.message, { 'retry-after': '1' }));
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
  let toolCallId = '';
  try {
    toolCallId = decodeURIComponent(APPROVAL_PATH.exec(req.path.replace(/\/+$/, ''))?.[2] ?? '');
  } catch {
    toolCallId = '';
  }
  if (!TOOL_CALL_ID.test(toolCallId)) throw new HttpError(404, 'NOT_FOUND', 'no such tool call');
  const contentType = (req.headers['content-type'] ?? '').toLowerCase();
  if (!/^application\/json\s*(;|$)/.test(contentType)) throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', 'send Content-Type: application/json');
  if (Buffer.byteLength(req.body ?? '', 'utf8') > MAX_BODY_BYTES) throw new HttpError(413, 'PAYLOAD_TOO_LARGE', `the body must be at most ${MAX_BODY_BYTES} bytes`);
  let raw: unknown;
  try {
    raw = JSON.parse(req.body ?? '');
  } catch {
    throw new HttpError(400, 'MALFORMED_JSON', 'the body must be a JSON object like {"decision": "approve"}');
  }
  const parsed = DecisionBody.safeParse(raw);
  if (!parsed.success) {
    const msg = parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
    throw new HttpError(422, 'INVALID_REQUEST', `${msg} (allowed: {"decision": "approve" | "reject", "reason"?: string})`);
  }
  const { remaining } = await deps.control.decide(runId, toolCallId, { ...parsed.data, decidedBy: userId });
  return json(202, { runId, toolCallId, decision: parsed.data.decision, remaining });
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
  const contentType = (req.headers['content-type'] ?? '').toLowerCase();
  if (!/^application\/json\s*(;|$)/.test(contentType)) throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', 'send Content-Type: application/json');
  if (Buffer.byteLength(req.body ?? '', 'utf8') > MAX_BODY_BYTES) throw new HttpError(413, 'PAYLOAD_TOO_LARGE', `the body must be at most ${MAX_BODY_BYTES} bytes`);
  const key = req.headers['idempotency-key'];
  if (key !== undefined && !IDEMPOTENCY_KEY.test(key)) {
    throw new HttpError(400, 'INVALID_IDEMPOTENCY_KEY', 'Idempotency-Key must be 1-255 printable ASCII characters');
  }
  let raw: unknown;
  try {
    raw = JSON.parse(req.body ?? '');
  } catch {
    throw new HttpError(400, 'MALFORMED_JSON', 'the body must be a JSON object like {"input": "<prompt>"}');
  }
  const parsed = StartRunBody.safeParse(raw);
  if (!parsed.success) {
    const msg = parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
    throw new HttpError(422, 'INVALID_REQUEST', `${msg} (allowed: {"input": string, "budgets"?: {"maxSteps"?: int, "maxTokens"?: int, "maxCostUsd"?: number}, "outputSchema"?: {JSON Schema}})`);
  }
  const outputSchema = parsed.data.outputSchema;
  checkOutputSchema(outputSchema);
  assertPriced(deps, parsed.data.budgets);
  await admitNewRun(deps, userId);
  const { runId, replayed } = await startRunOf(
    { runs: deps.runs, control: deps.control, budgets: deps.config.budgets, newRunId: deps.newRunId },
    { userId, input: parsed.data.input, budgets: parsed.data.budgets, idempotencyKey: key, ...outputSpecOf(deps, outputSchema) },
  );
  return replayed ? json(200, { runId }, { 'idempotent-replayed': 'true' }) : json(202, { runId });
}

