import { type ApiKeyPort, KEY_ID, KEY_USER_ID, newApiKey, viewOf } from '../core/api-keys';
import type { AgentConfig } from '../core/config';
import { Conflict } from '../core/errors';
import type { RunRecord } from '../core/ports';
import { toMicros, toUsd } from '../core/pricing';
import { runView } from '../core/run-view';
import { checkDailyCaps, hasDailyCaps, utcDay } from '../core/spend';
import { eraseUser } from '../core/threads';
import { trace } from '../core/trace';
import { ACTIVE_STATUSES, RUN_STATUSES } from '../core/types';
import { type ApiDeps, type ApiRequest, type ApiResponse, HttpError, json, MAX_PAGE_SIZE } from './http';
import { ADMINS_GROUP } from './public-config';
import { eraseDepsOf, pathParam } from './request-checks';

/**
 * The admin routes (kill switch, spend, support access) and the spend gates of POST /runs. Admins are the Cognito
 * group ADMINS_GROUP in AWS and `adminTokens` locally; the API handler and the local server set `req.isAdmin`.
 */

const STOP_CONCURRENCY = 10;
const USER_ID = /^[\w@.+:|-]{1,128}$/;

/** The groups of a Cognito claim (one implementation, with the caller's identity: ./caller.ts). */
export { groupsOf } from './caller';

/**
 * POST /runs gates, before anything is written: 503 DISABLED while an admin has disabled new runs; 429 SPEND_LIMIT
 * (Retry-After: seconds to midnight UTC) past the caller's or the deployment's daily cap.
 */
export async function admitNewRun(deps: ApiDeps, userId: string, now: Date = new Date()): Promise<void> {
  if (await deps.spend.isDisabled()) {
    throw new HttpError(503, 'DISABLED', 'new runs are disabled by an administrator (POST /admin/enable turns them back on)');
  }
  if (!hasDailyCaps(deps.config.spend)) return;
  const decision = checkDailyCaps(await deps.spend.today(userId, utcDay(now)), deps.config.spend, now);
  if (!decision.ok) throw new HttpError(429, 'SPEND_LIMIT', decision.message, { 'retry-after': String(decision.retryAfterSeconds) });
}

/**
 * The run a caller may read: their own, or — for an admin — anyone's, each such read recorded (who, which run,
 * when). Anyone else's run is a 404, as no run at all.
 */
export async function readableRun(deps: ApiDeps, req: ApiRequest, userId: string, runId: string, what: 'run' | 'trace'): Promise<RunRecord> {
  const run = await deps.runs.getRun(runId);
  if (run && run.userId === userId) return run;
  if (run && req.isAdmin) {
    await deps.spend.recordAdminRead({ adminId: userId, runId, owner: run.userId, what });
    return run;
  }
  throw new HttpError(404, 'NOT_FOUND', 'no such run');
}

type AdminHandler = (deps: ApiDeps, req: ApiRequest, adminId: string, param: string) => Promise<ApiResponse>;

/** The admin routes: path template → method → handler. */
const ADMIN_ROUTES: Record<string, Record<string, AdminHandler>> = {
  '/admin/stop': { POST: stop },
  '/admin/disable': { POST: (d, r, a) => setDisabled(d, r, a, true) },
  '/admin/enable': { POST: (d, r, a) => setDisabled(d, r, a, false) },
  '/admin/spend': { GET: spend },
  '/admin/runs': { GET: listRuns },
  '/admin/reads': { GET: reads },
  '/admin/keys': { POST: createKey, GET: listKeys },
  '/admin/keys/{keyId}': { DELETE: revokeKey },
  '/admin/users/{userId}': { DELETE: eraseUserRoute },
};
/** The routes of API keys: served only with api.auth "apiKeys" or "both". */
const KEY_ROUTES = new Set(['/admin/keys', '/admin/keys/{keyId}']);
const usesKeys = (auth: AgentConfig['api']['auth'] | undefined) => auth === 'apiKeys' || auth === 'both';
const ADMIN_PATTERNS = Object.entries(ADMIN_ROUTES).map(([path, methods]) => ({ path, methods, pattern: new RegExp(`^${path.replace(/\{[^/}]+\}/g, '([^/]+)')}$`) }));

/** Every admin route as `METHOD /path`, for an API whose callers authenticate as `auth` says. */
export const adminRoutes = (auth?: AgentConfig['api']['auth']): string[] =>
  Object.entries(ADMIN_ROUTES)
    .filter(([path]) => usesKeys(auth) || !KEY_ROUTES.has(path))
    .flatMap(([path, methods]) => Object.keys(methods).map((m) => `${m} ${path}`));

/** DELETE /admin/users/{userId}: erase a user's runs and threads. */
const ADMIN_USER_PATH = /^\/admin\/users\/([^/]+)$/;

/** True for the paths the admin routes serve. */
export const isAdminPath = (path: string): boolean => path === '/admin' || path.startsWith('/admin/');

/** The query parameters each admin route takes (any other is refused, by name). */
const ADMIN_QUERY: Record<string, readonly string[]> = {
  '/admin/spend': ['day'],
  '/admin/runs': ['userId', 'status', 'from', 'to', 'cursor', 'limit'],
  '/admin/reads': ['day'],
  'GET /admin/keys': ['userId'],
};

/**
 * The admin routes: 401 without a caller and 403 for a caller who is not an admin, before anything about the admin
 * routes (which exist, which methods) is said; then the same request checks as every other route: query parameters
 * the route does not take are refused by name, a POST body must be JSON (415 otherwise) and scope comes from the
 * documented body only.
 */
export async function handleAdmin(deps: ApiDeps, req: ApiRequest, path: string): Promise<ApiResponse> {
  if (!req.userId) throw new HttpError(401, 'UNAUTHORIZED', 'a valid bearer token is required (Authorization: Bearer <token>)');
  if (!req.isAdmin) throw new HttpError(403, 'FORBIDDEN', `admin routes need an admin (Cognito group ${ADMINS_GROUP}, an admin API key; locally a token in adminTokens)`);
  const route = ADMIN_PATTERNS.find((r) => r.pattern.test(path) && (usesKeys(deps.config.api.auth) || !KEY_ROUTES.has(r.path)));
  if (!route) throw new HttpError(404, 'NOT_FOUND', `no route ${req.method} ${path}; admin routes: ${adminRoutes(deps.config.api.auth).join(', ')}`);
  const handler = route.methods[req.method.toUpperCase()];
  const allow = Object.keys(route.methods).join(', ');
  if (!handler) throw new HttpError(405, 'METHOD_NOT_ALLOWED', `${req.method} is not allowed here; allowed: ${allow}`, { allow });
  const allowed = ADMIN_QUERY[`${req.method.toUpperCase()} ${route.path}`] ?? ADMIN_QUERY[route.path] ?? [];
  const unknown = Object.keys(req.query ?? {}).filter((k) => !allowed.includes(k));
  if (unknown.length) {
    const takes = allowed.length ? `it takes ${allowed.join(', ')}` : `it takes none${path === '/admin/stop' ? ' (the scope goes in the body: {"userId"?: string})' : ''}`;
    throw new HttpError(400, 'INVALID_QUERY', `unknown query parameter(s) ${unknown.join(', ')} for ${req.method.toUpperCase()} ${path}; ${takes}`);
  }
  return handler(deps, req, req.userId, pathParam(path, route.pattern));
}

function keyStore(deps: ApiDeps): ApiKeyPort {
  if (!deps.keys) throw new Error('the API has no key store (api.auth "apiKeys" or "both" wires one)');
  return deps.keys;
}

/** POST /admin/keys {"userId", "admin"?}: a new key for a user, shown once (201 {keyId, key, …}). */
async function createKey(deps: ApiDeps, req: ApiRequest, adminId: string): Promise<ApiResponse> {
  const { userId, admin, ...rest } = body(req);
  const allowed = 'allowed: {"userId": string, "admin"?: boolean}';
  if (Object.keys(rest).length) throw new HttpError(422, 'INVALID_REQUEST', `unknown field(s) ${Object.keys(rest).join(', ')}; ${allowed}`);
  if (typeof userId !== 'string' || !KEY_USER_ID.test(userId))
    throw new HttpError(422, 'INVALID_REQUEST', `userId must be a user id (1-128 letters, digits or _@.+:|-); ${allowed}`);
  if (admin !== undefined && typeof admin !== 'boolean') throw new HttpError(422, 'INVALID_REQUEST', `admin must be true or false; ${allowed}`);
  const { key, record } = newApiKey({ userId, admin: admin === true, createdBy: adminId, now: new Date() });
  await keyStore(deps).create(record);
  return json(201, { ...viewOf(record), key });
}

/** GET /admin/keys?userId=: the keys (never their secrets), newest first. */
async function listKeys(deps: ApiDeps, req: ApiRequest): Promise<ApiResponse> {
  const userId = req.query?.userId;
  if (userId !== undefined && !KEY_USER_ID.test(userId)) throw new HttpError(400, 'INVALID_QUERY', 'userId must be a user id');
  return json(200, { keys: (await keyStore(deps).list(userId)).map(viewOf) });
}

/** DELETE /admin/keys/{keyId}: the key stops working (within api.authorizerCacheSeconds: docs/auth.md). */
async function revokeKey(deps: ApiDeps, _req: ApiRequest, _adminId: string, keyId: string): Promise<ApiResponse> {
  if (!KEY_ID.test(keyId)) throw new HttpError(404, 'NOT_FOUND', 'no such key');
  const record = await keyStore(deps).revoke(keyId, new Date().toISOString());
  if (!record) throw new HttpError(404, 'NOT_FOUND', 'no such key');
  return json(200, viewOf(record));
}

function body(req: ApiRequest): Record<string, unknown> {
  if (!req.body) return {};
  const contentType = (req.headers['content-type'] ?? '').toLowerCase();
  if (!/^application\/json\s*(;|$)/.test(contentType)) throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', 'send Content-Type: application/json');
  let raw: unknown;
  try {
    raw = JSON.parse(req.body);
  } catch {
    throw new HttpError(400, 'MALFORMED_JSON', 'the body must be a JSON object, e.g. {"userId": "<id>"} or {}');
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new HttpError(422, 'INVALID_REQUEST', 'the body must be a JSON object, e.g. {"userId": "<id>"} or {}');
  return raw as Record<string, unknown>;
}

/** POST /admin/stop {userId?}: every RUNNING, PAUSED or AWAITING_APPROVAL run in scope → CANCELLED / KILLED. */
async function stop(deps: ApiDeps, req: ApiRequest, adminId: string): Promise<ApiResponse> {
  const { userId, ...rest } = body(req);
  if (Object.keys(rest).length) throw new HttpError(422, 'INVALID_REQUEST', `unknown field(s) ${Object.keys(rest).join(', ')}; allowed: {"userId"?: string}`);
  if (userId !== undefined && (typeof userId !== 'string' || !USER_ID.test(userId))) throw new HttpError(422, 'INVALID_REQUEST', 'userId must be a user id string');
  const runs = (await deps.runs.listRunsByStatus([...ACTIVE_STATUSES])).filter((r) => userId === undefined || r.userId === userId);
  const stopped: string[] = [];
  const stopOne = async (run: RunRecord) => {
    try {
      await deps.control.cancel(run.runId, 'KILLED');
    } catch (err) {
      // Finished on its own meanwhile: nothing to stop.
      if (err instanceof Conflict) return;
      throw err;
    }
    stopped.push(run.runId);
    await deps.runs.appendEvent(run.runId, trace.adminStop({ step: run.step, by: adminId, scope: userId ?? 'all' }));
  };
  // A few at a time: StopExecution and the table have their own rate limits.
  for (let i = 0; i < runs.length; i += STOP_CONCURRENCY) await Promise.all(runs.slice(i, i + STOP_CONCURRENCY).map(stopOne));
  return json(200, { stopped: stopped.length, runIds: stopped.sort(), scope: userId ?? 'all' });
}

async function setDisabled(deps: ApiDeps, req: ApiRequest, adminId: string, disabled: boolean): Promise<ApiResponse> {
  const fields = Object.keys(body(req));
  if (fields.length) throw new HttpError(422, 'INVALID_REQUEST', `unknown field(s) ${fields.join(', ')}; the body is {} or empty`);
  await deps.spend.setDisabled(disabled, adminId);
  return json(200, { disabled, by: adminId });
}

/** GET /admin/spend: today's totals (UTC day), per user, with the caps. */
async function spend(deps: ApiDeps, req: ApiRequest): Promise<ApiResponse> {
  const day = req.query?.day ?? utcDay(new Date());
  if (!isDay(day)) throw new HttpError(400, 'INVALID_QUERY', 'day must be a calendar day yyyy-mm-dd (a UTC day)');
  const totals = await deps.spend.day(day);
  const caps = deps.config.spend;
  return json(200, {
    day,
    totalUsd: toUsd(totals.totalMicros),
    calls: totals.calls,
    users: totals.users.map((u) => ({
      userId: u.userId,
      costUsd: toUsd(u.micros),
      calls: u.calls,
      ...(caps.dailyUsdPerUser !== undefined ? { overCap: u.micros >= toMicros(caps.dailyUsdPerUser) } : {}),
    })),
    caps: { dailyUsdPerUser: caps.dailyUsdPerUser ?? null, dailyUsdTotal: caps.dailyUsdTotal ?? null, fallbackAt: caps.fallbackAt ?? null },
    disabled: await deps.spend.isDisabled(),
  });
}

/** A real calendar day yyyy-mm-dd (2026-02-31 and 2026-99-99 are not). */
const isDay = (s: string) => /^\d{4}-\d{2}-\d{2}$/.test(s) && !Number.isNaN(Date.parse(`${s}T00:00:00Z`)) && new Date(`${s}T00:00:00Z`).toISOString().slice(0, 10) === s;
/** A real day, or a real instant on it (yyyy-mm-ddThh:mm[:ss[.sss]][Z]). */
const isInstant = (s: string) => {
  const m = /^(\d{4}-\d{2}-\d{2})(T([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,3})?)?Z?)?$/.exec(s);
  return Boolean(m && isDay(m[1] as string) && !Number.isNaN(Date.parse(s)));
};

/** GET /admin/runs?userId=&status=&from=&to=&cursor=&limit=: any user's runs (support access). */
async function listRuns(deps: ApiDeps, req: ApiRequest): Promise<ApiResponse> {
  const q = req.query ?? {};
  // Decimal digits only: Number() would also take "0x10", "1e1", " 5".
  const limit = q.limit === undefined ? 20 : /^[0-9]{1,3}$/.test(q.limit) ? Number(q.limit) : Number.NaN;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE) throw new HttpError(400, 'INVALID_QUERY', `limit must be a whole number from 1 to ${MAX_PAGE_SIZE}`);
  if (q.userId !== undefined && !USER_ID.test(q.userId)) throw new HttpError(400, 'INVALID_QUERY', 'userId must be a user id');
  if (q.status !== undefined && !(RUN_STATUSES as readonly string[]).includes(q.status))
    throw new HttpError(400, 'INVALID_QUERY', `status must be one of ${RUN_STATUSES.join(', ')}`);
  for (const key of ['from', 'to'] as const) {
    const v = q[key];
    if (v !== undefined && !isInstant(v)) throw new HttpError(400, 'INVALID_QUERY', `${key} must be an ISO date or instant (e.g. 2026-01-31 or 2026-01-31T12:00:00Z)`);
  }
  // A bare date `to` covers that whole day.
  const to = q.to && /^\d{4}-\d{2}-\d{2}$/.test(q.to) ? `${q.to}T23:59:59.999Z` : q.to;
  try {
    const page = await deps.spend.listRunsForSupport({ userId: q.userId, status: q.status, from: q.from, to, cursor: q.cursor, limit });
    return json(200, { runs: page.runs.map((r) => ({ ...runView(r), userId: r.userId })), nextCursor: page.nextCursor });
  } catch (err) {
    if ((err as Error).message === 'invalid cursor' || (err as { name?: string }).name === 'ValidationException') {
      throw new HttpError(400, 'INVALID_CURSOR', 'cursor must be the nextCursor of a previous page');
    }
    throw err;
  }
}

/** GET /admin/reads?day=: the admin read log of a UTC day (who read which run, when). */
async function reads(deps: ApiDeps, req: ApiRequest): Promise<ApiResponse> {
  const day = req.query?.day ?? utcDay(new Date());
  if (!isDay(day)) throw new HttpError(400, 'INVALID_QUERY', 'day must be a calendar day yyyy-mm-dd (a UTC day)');
  return json(200, { day, reads: await deps.spend.adminReads(day) });
}

/**
 * DELETE /admin/users/{userId}: every run and thread of the user erased (a data-erasure request), the erase recorded
 * in the admin log. The user's spend counters stay: they are billing.
 */
async function eraseUserRoute(deps: ApiDeps, req: ApiRequest, adminId: string): Promise<ApiResponse> {
  const userId = pathParam(req.path, ADMIN_USER_PATH);
  if (!USER_ID.test(userId)) throw new HttpError(400, 'INVALID_REQUEST', 'userId must be a user id: 1-128 letters, digits and _ @ . + : | -');
  const erased = await eraseUser(eraseDepsOf(deps), userId);
  await deps.spend.recordAdminRead({ adminId, runId: '*', owner: userId, what: 'erase' });
  return json(200, { userId, erased, by: adminId });
}
