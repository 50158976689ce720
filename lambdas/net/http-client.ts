/**
 * The one HTTP client of the runtime's external calls (HTTP tools, the retriever, the model providers): a POST of
 * JSON with a client timeout that covers headers and body, and the classification of a response into the error
 * taxonomy (lambdas/core/errors.ts). It never retries: the state machine owns retries.
 */
import { BadRequest, QuotaExhausted, RateLimited, TimeoutError, TransientError } from '../core/errors';
import { bodyExcerpt, utf8Boundary } from '../core/truncate';

export type FetchLike = typeof fetch;

/** Most bytes read from a response body; the rest is left unread and counted as truncated. */
export const MAX_READ_BYTES = 1024 * 1024;
/** Characters of an error response body quoted in the error message. */
const ERROR_EXCERPT_CHARS = 500;

export interface PostJsonOptions {
  timeoutMs: number;
  /** Sent as `Idempotency-Key` when given. */
  idempotencyKey?: string;
  headers?: Record<string, string>;
  fetchImpl?: FetchLike;
  /** An outer abort (e.g. the Lambda deadline); reported as TimeoutError. */
  signal?: AbortSignal;
  /** Names the dependency in error messages (e.g. "tool charge"). */
  label?: string;
}

export interface HttpResponse {
  status: number;
  headers: Headers;
  /** The body, at most MAX_READ_BYTES of it. */
  text: string;
  /** Bytes of the body that were not read (known from Content-Length, or at least 1 when reading stopped early). */
  unreadBytes: number;
  /** True when the body was cut and its length is unknown (no Content-Length): `unreadBytes` is a lower bound. */
  unreadIsLowerBound?: boolean;
}

/**
 * Parses Retry-After (delta-seconds or an HTTP date) into whole seconds ≥ 0; undefined when absent or unparsable.
 */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (value == null) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.ceil(Number(trimmed));
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, Math.ceil((at - now) / 1000));
}

async function readBody(res: Response, limit: number): Promise<{ text: string; unreadBytes: number; unreadIsLowerBound?: boolean }> {
  if (!res.body) return { text: '', unreadBytes: 0 };
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let read = 0;
  let stoppedEarly = false;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    read += value.byteLength;
    if (read > limit) {
      stoppedEarly = true;
      await reader.cancel().catch(() => undefined);
      break;
    }
  }
  const buf = Buffer.concat(chunks);
  if (!stoppedEarly) return { text: buf.toString('utf8'), unreadBytes: 0 };
  // Kept: whole characters only, so the byte counts downstream are exact.
  const kept = utf8Boundary(buf, limit);
  const header = res.headers.get('content-length');
  const length = header !== null && /^\d+$/.test(header.trim()) ? Number(header) : Number.NaN;
  // Content-Length counts encoded bytes: with a content encoding the decoded length is unknown.
  const encoded = (res.headers.get('content-encoding') ?? 'identity').trim().toLowerCase() !== 'identity';
  if (!encoded && Number.isSafeInteger(length) && length >= buf.length) return { text: buf.subarray(0, kept).toString('utf8'), unreadBytes: length - kept };
  return { text: buf.subarray(0, kept).toString('utf8'), unreadBytes: Math.max(1, buf.length - kept), unreadIsLowerBound: true };
}

/**
 * POSTs `body` as JSON with a client timeout. Resolves with any HTTP response (classify it with
 * {@link classifyResponse}); rejects with TimeoutError on timeout/abort and TransientError on a network failure.
 */
export async function postJson(url: string, body: unknown, options: PostJsonOptions): Promise<HttpResponse> {
  const fetchImpl = options.fetchImpl ?? fetch;
  const label = options.label ?? url;
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, options.timeoutMs);
  const onOuterAbort = () => controller.abort();
  if (options.signal?.aborted) controller.abort();
  else options.signal?.addEventListener('abort', onOuterAbort, { once: true });
  const headers: Record<string, string> = {
    'Content-Type': 'application/json',
    Accept: 'application/json, text/plain;q=0.9, */*;q=0.8',
    ...options.headers,
  };
  if (options.idempotencyKey !== undefined) headers['Idempotency-Key'] = options.idempotencyKey;
  try {
    const res = await fetchImpl(url, {
      method: 'POST',
      headers,
      body: JSON.stringify(body ?? {}),
      signal: controller.signal,
      redirect: 'manual',
    });
    const { text, unreadBytes, unreadIsLowerBound } = await readBody(res, MAX_READ_BYTES);
    return { status: res.status, headers: res.headers, text, unreadBytes, ...(unreadIsLowerBound ? { unreadIsLowerBound } : {}) };
  } catch (err) {
    if (timedOut) throw new TimeoutError(`${label} did not answer within ${options.timeoutMs} ms`, { cause: err });
    if (controller.signal.aborted) throw new TimeoutError(`${label}: call aborted (deadline)`, { cause: err });
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const detail = cause?.code ?? cause?.message ?? (err as Error).message ?? String(err);
    throw new TransientError(`${label}: network error (${detail})`, { cause: err });
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onOuterAbort);
  }
}

/** Throws the taxonomy error for a non-2xx response; returns nothing for 2xx. */
export function classifyResponse(res: HttpResponse, label: string): void {
  const { status } = res;
  if (status >= 200 && status < 300) return;
  const body = bodyExcerpt(res.text, ERROR_EXCERPT_CHARS);
  if (status === 429) {
    if (/insufficient_quota|quota.{0,20}exceeded|spend(ing)? limit/i.test(res.text)) {
      throw new QuotaExhausted(`${label} returned HTTP 429 (quota exhausted): ${body}`, { status });
    }
    const retryAfterSeconds = parseRetryAfter(res.headers.get('retry-after'));
    const after = retryAfterSeconds === undefined ? '' : ` (retry after ${retryAfterSeconds} s)`;
    throw new RateLimited(`${label} returned HTTP 429 rate limited${after}: ${body}`, { status, retryAfterSeconds });
  }
  if (status >= 500 || status === 408) throw new TransientError(`${label} returned HTTP ${status}: ${body}`, { status });
  if (status >= 300 && status < 400) {
    const location = res.headers.get('location');
    throw new BadRequest(`${label} returned HTTP ${status} redirect${location ? ` to ${location}` : ''} (not followed)`, { status });
  }
  throw new BadRequest(`${label} returned HTTP ${status}: ${body}`, { status });
}
