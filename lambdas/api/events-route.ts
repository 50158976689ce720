import type { RunRecord } from '../core/ports';
import { type EventStreamOptions, type RunEventsSource, streamRunEvents } from '../core/run-events';
import type { AdminSpendPort } from '../core/spend';
import { errorBody } from './http';
import type { ApiRequest } from './routes';

/** GET /runs/{id}/events. */
export const EVENTS_PATH = /^\/runs\/([A-Za-z0-9_-]{1,80})\/events\/?$/;

/** The status line and headers of a streamed response (API Gateway's metadata prelude carries them). */
export interface StreamHead {
  statusCode: number;
  headers: Record<string, string>;
}

/** Where a streamed response goes: the head once, then the body in chunks. */
export interface StreamSink {
  open(head: StreamHead): void | Promise<void>;
  write(chunk: string): void | Promise<void>;
}

/**
 * GET /runs/{id}/events (`Accept: text/event-stream`): the run's trace as Server-Sent Events while it runs
 * (lambdas/core/run-events.ts). The run's owner only (an admin too, each such read recorded); anyone else gets 404,
 * no token 401, an Accept that excludes event streams 406 — each as the JSON error the other routes answer.
 */
export async function serveRunEvents(
  deps: { runs: RunEventsSource; spend?: Pick<AdminSpendPort, 'recordAdminRead'> },
  req: ApiRequest,
  sink: StreamSink,
  options: Omit<EventStreamOptions, 'lastEventId'>,
): Promise<void> {
  const fail = async (statusCode: number, code: string, message: string) => {
    await sink.open({ statusCode, headers: { 'content-type': 'application/json' } });
    await sink.write(JSON.stringify(errorBody(code, message)));
  };
  if (req.method.toUpperCase() !== 'GET') return fail(405, 'METHOD_NOT_ALLOWED', `${req.method} is not allowed here; allowed: GET`);
  if (!req.userId) return fail(401, 'UNAUTHORIZED', 'a valid bearer token is required (Authorization: Bearer <token>)');
  const runId = EVENTS_PATH.exec(req.path)?.[1];
  const run: RunRecord | undefined = runId ? await deps.runs.getRun(runId) : undefined;
  const readable = run && (run.userId === req.userId || req.isAdmin);
  if (!run || !runId || !readable) return fail(404, 'NOT_FOUND', 'no such run');
  if (run.userId !== req.userId) await deps.spend?.recordAdminRead({ adminId: req.userId, runId, owner: run.userId, what: 'events' });
  const accept = (req.headers.accept ?? '*/*').toLowerCase();
  if (!/(^|,)\s*(text\/event-stream|text\/\*|\*\/\*)\s*(;|,|$)/.test(accept)) {
    return fail(406, 'NOT_ACCEPTABLE', 'this route answers text/event-stream only (send Accept: text/event-stream)');
  }
  await sink.open({ statusCode: 200, headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' } });
  await streamRunEvents(deps.runs, runId, (chunk) => sink.write(chunk), { ...options, lastEventId: req.headers['last-event-id'] });
}
