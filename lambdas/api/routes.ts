import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { AgentConfig } from '../../lib/config';
import { effectiveBudgets } from '../core/budget';
import { AgentError } from '../core/errors';
import { runView } from '../core/loop';
import type { RunRecord } from '../core/ports';
import type { RunStore } from '../store/run-store';

/** An HTTP request as both API Gateway and the local server hand it over. */
export interface ApiRequest {
  method: string;
  path: string;
  headers: Record<string, string | undefined>;
  body: string | null;
  /** The verified caller (Cognito `sub` in AWS, a configured bearer token locally); null when unauthenticated. */
  userId: string | null;
}

export interface ApiResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

/** Starts the state machine for a run (StartExecution in AWS, the offline engine locally). */
export interface Executor {
  start(run: { runId: string; userId: string }): Promise<{ executionArn?: string }>;
}

export interface ApiDeps {
  runs: RunStore;
  executor: Executor;
  config: AgentConfig;
  newRunId?: () => string;
}

/** Largest prompt accepted, in characters. */
export const MAX_INPUT_CHARS = 32_000;

export const StartRunBody = z.strictObject({
  input: z.string().trim().min(1, 'must be a non-empty string').max(MAX_INPUT_CHARS, `must be at most ${MAX_INPUT_CHARS} characters`),
  budgets: z
    .strictObject({
      maxSteps: z.number().int().positive().optional(),
      maxTokens: z.number().int().positive().optional(),
    })
    .optional(),
});

const RUN_ID = /^[A-Za-z0-9_-]{1,80}$/;

class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const json = (statusCode: number, body: unknown): ApiResponse => ({
  statusCode,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});
const error = (statusCode: number, code: string, message: string) => json(statusCode, { error: { code, message } });

/** The API's routes: one implementation behind API Gateway and the local server. */
export async function handleApi(deps: ApiDeps, req: ApiRequest): Promise<ApiResponse> {
  try {
    if (!req.userId) throw new HttpError(401, 'UNAUTHORIZED', 'a valid bearer token is required (Authorization: Bearer <token>)');
    const segments = req.path.replace(/\/+$/, '').split('/').filter(Boolean);
    if (segments[0] !== 'runs') throw new HttpError(404, 'NOT_FOUND', `no route ${req.method} ${req.path}`);
    if (segments.length === 1) {
      if (req.method === 'POST') return await startRun(deps, req, req.userId);
      throw new HttpError(405, 'METHOD_NOT_ALLOWED', 'allowed on /runs: POST');
    }
    const runId = segments[1] ?? '';
    if (!RUN_ID.test(runId)) throw new HttpError(404, 'NOT_FOUND', 'no such run');
    if (segments.length === 2) {
      if (req.method !== 'GET') throw new HttpError(405, 'METHOD_NOT_ALLOWED', 'allowed on /runs/{id}: GET');
      const run = await ownRun(deps, runId, req.userId);
      return json(200, runView(run));
    }
    throw new HttpError(404, 'NOT_FOUND', `no route ${req.method} ${req.path}`);
  } catch (err) {
    if (err instanceof HttpError) return error(err.statusCode, err.code, err.message);
    if (err instanceof AgentError && err.name === 'BadRequest') return error(422, 'INVALID_BUDGET', err.message);
    throw err;
  }
}

async function ownRun(deps: ApiDeps, runId: string, userId: string): Promise<RunRecord> {
  const run = await deps.runs.getRun(runId);
  // Someone else's run is indistinguishable from no run.
  if (!run || run.userId !== userId) throw new HttpError(404, 'NOT_FOUND', 'no such run');
  return run;
}

async function startRun(deps: ApiDeps, req: ApiRequest, userId: string): Promise<ApiResponse> {
  const contentType = (req.headers['content-type'] ?? '').toLowerCase();
  if (!contentType.startsWith('application/json')) throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', 'send Content-Type: application/json');
  let raw: unknown;
  try {
    raw = JSON.parse(req.body ?? '');
  } catch {
    throw new HttpError(400, 'MALFORMED_JSON', 'the body must be a JSON object like {"input": "<prompt>"}');
  }
  const parsed = StartRunBody.safeParse(raw);
  if (!parsed.success) {
    const msg = parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
    throw new HttpError(422, 'INVALID_REQUEST', `${msg} (allowed: {"input": string, "budgets"?: {"maxSteps"?: int, "maxTokens"?: int}})`);
  }
  const budgets = effectiveBudgets(deps.config.budgets, parsed.data.budgets);
  const runId = (deps.newRunId ?? randomUUID)();
  await deps.runs.createRun({ runId, userId, input: parsed.data.input, ...budgets });
  await deps.executor.start({ runId, userId });
  return json(202, { runId });
}
