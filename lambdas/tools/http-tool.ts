/**
 * The `http` tool kind, and the HTTP client the retriever shares.
 *
 * A call POSTs the model's arguments as JSON to the configured url with `Content-Type: application/json` and
 * `Idempotency-Key: <key>` (the caller's key: the same on every retry of the same call, so the endpoint can
 * de-duplicate). Redirects are not followed (a POST must not silently change target).
 *
 * Classification (lambdas/core/errors.ts):
 * - client timeout (`timeoutMs`, covering headers and body) → TimeoutError
 * - network error, 5xx, 408 → TransientError
 * - 429 → RateLimited with `retryAfterSeconds` from Retry-After (seconds or HTTP date); a 429 whose body says
 *   `insufficient_quota` → QuotaExhausted
 * - any other 3xx/4xx → BadRequest, the message carrying the status and a body excerpt so the model can read it
 * - 2xx → the body text; JSON is re-serialised compactly; cut to 16 KB with "…[truncated N bytes]", N counting every
 *   byte of the body left out (read or not)
 */

import type { ToolConfig } from '../core/config';
import type { ErrorName } from '../core/errors';
import { classifyResponse, type FetchLike, postJson } from '../net/http-client';

export type { FetchLike } from '../net/http-client';
export { classifyResponse, MAX_READ_BYTES, parseRetryAfter, postJson } from '../net/http-client';

import { errorToResult, MAX_CONTENT_BYTES, notAnObjectResult, type Tool, type ToolContext, type ToolResult, truncateUtf8 } from './types';

/** Wraps an external call in a circuit breaker for `dependency` ("tool:<name>"); identity when absent. */
export type Guard = <T>(dependency: string, fn: () => Promise<T>) => Promise<T>;

export const identityGuard: Guard = (_dependency, fn) => fn();

export type HttpToolConfig = Extract<ToolConfig, { kind: 'http' }>;

/** JSON bodies re-serialised compactly (one line, no indentation); anything else as is. */
export function compactBody(text: string, contentType: string | null): string {
  const trimmed = text.trim();
  const looksJson = /json/i.test(contentType ?? '') || /^[[{"]/.test(trimmed);
  if (looksJson && trimmed) {
    try {
      return JSON.stringify(JSON.parse(trimmed));
    } catch {
      // not JSON after all (or cut short): keep the text
    }
  }
  return text;
}

export interface HttpCallResult {
  status: number;
  /** What the model sees: the (compacted, truncated) body. */
  content: string;
}

/** One call of an http tool: POST, classify, compact and truncate. Throws taxonomy errors. */
export async function callHttpTool(
  config: Pick<HttpToolConfig, 'name' | 'url' | 'timeoutMs'>,
  args: unknown,
  options: { idempotencyKey: string; fetchImpl?: FetchLike; signal?: AbortSignal },
): Promise<HttpCallResult> {
  const label = `tool ${config.name}`;
  const res = await postJson(config.url, args, {
    timeoutMs: config.timeoutMs,
    idempotencyKey: options.idempotencyKey,
    fetchImpl: options.fetchImpl,
    signal: options.signal,
    label,
  });
  classifyResponse(res, label);
  const body = res.text.trim() === '' ? `(empty response, HTTP ${res.status})` : compactBody(res.text, res.headers.get('content-type'));
  return { status: res.status, content: truncateUtf8(body, MAX_CONTENT_BYTES, res.unreadBytes, res.unreadIsLowerBound) };
}

/** True for a plain JSON object (not null, not an array). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * One call of a configured tool (http, lambda, mcp): the arguments must be a JSON object (else an error result, never
 * executed); a transient failure is thrown (the state machine retries it), any other becomes a result the model
 * sees, and a refused call (`refused`: an open breaker, a spent quota) says the tool is unavailable and reports
 * `dependency` degraded.
 */
export async function callConfiguredTool(
  name: string,
  dependency: string,
  args: unknown,
  refused: readonly ErrorName[],
  call: (args: Record<string, unknown>) => Promise<ToolResult>,
): Promise<ToolResult> {
  if (!isPlainObject(args)) return notAnObjectResult(name, args);
  try {
    return await call(args);
  } catch (err) {
    const result = errorToResult(name, err); // throws when transient
    const refusal = (err as Error).name;
    if ((refused as readonly string[]).includes(refusal)) {
      result.content = `${name} is unavailable right now (${refusal}: ${(err as Error).message}). Continue without it or tell the user.`;
      result.degraded = { dependency, reason: refusal, fallback: 'none' };
    }
    return result;
  }
}

/**
 * A configured http tool. Arguments must be a JSON object (else an isError result). The call goes through
 * `guard("tool:<name>", …)`. Transient failures are thrown (the state machine retries them); others become isError
 * results; a refused call (CircuitOpen/QuotaExhausted) also reports the tool as degraded.
 */
export function createHttpTool(config: HttpToolConfig, deps: { fetchImpl?: FetchLike; guard?: Guard } = {}): Tool {
  const guard = deps.guard ?? identityGuard;
  const dependency = `tool:${config.name}`;
  return {
    spec: { name: config.name, description: config.description, parameters: config.parameters },
    run: (args: unknown, ctx: ToolContext) =>
      callConfiguredTool(config.name, dependency, args, ['CircuitOpen', 'QuotaExhausted'], async (body) => {
        const out = await guard(dependency, () => callHttpTool(config, body, { idempotencyKey: ctx.idempotencyKey, fetchImpl: deps.fetchImpl, signal: ctx.signal }));
        return { content: out.content, data: { status: out.status } };
      }),
  };
}
