import type { ApiKeyPort } from '../core/api-keys';
import type { AgentConfig } from '../core/config';
import type { ApiRunRepository, RunControl } from '../core/ports';
import type { AdminSpendPort } from '../core/spend';
import type { RunEraser, ThreadRepository } from '../core/threads';

/** An HTTP request as both API Gateway and the local server hand it over. Header names are lower case. */
export interface ApiRequest {
  method: string;
  path: string;
  query?: Record<string, string | undefined>;
  headers: Record<string, string | undefined>;
  body: string | null;
  /** The verified caller (Cognito `sub` in AWS, a configured bearer token locally); null when unauthenticated. */
  userId: string | null;
  /** The caller is an admin (Cognito group agent-admins in AWS, a token in `adminTokens` locally). */
  isAdmin?: boolean;
}

export interface ApiResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

export interface ApiDeps {
  runs: ApiRunRepository;
  control: RunControl;
  config: AgentConfig;
  /** Spend counters, the disable flag, the admin read log (lambdas/store/spend-store.ts). */
  spend: AdminSpendPort;
  /** Thread items (lambdas/store/thread-store.ts); without them the thread routes answer 404. */
  threads?: ThreadRepository;
  /** Deletes a run's items (lambdas/store/run-erase.ts): the erase routes need it with `threads`. */
  runItems?: RunEraser;
  /** API keys (api.auth "apiKeys" or "both"): the admin key routes. */
  keys?: ApiKeyPort;
  newRunId?: () => string;
}

/** The routes served without a caller (lambdas/handlers/api.ts): the trace viewer page and the sign-in settings. */
export const PUBLIC_ROUTES = ['GET /', 'GET /config'] as const;

/** Largest page of a list route. */
export const MAX_PAGE_SIZE = 100;

/** An API error: status, a stable code and a message saying what is allowed. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** The body of every error answer: `{"error": {"code", "message"}}` (docs/api.md, Errors). */
export const errorBody = (code: string, message: string) => ({ error: { code, message } });

/** A JSON answer. */
export const json = (statusCode: number, body: unknown, headers: Record<string, string> = {}): ApiResponse => ({
  statusCode,
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
});

/** Any error the routes raise, as its answer. */
export function errorResponse(err: HttpError): ApiResponse {
  return json(err.statusCode, errorBody(err.code, err.message), err.headers);
}
