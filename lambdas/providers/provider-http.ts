/**
 * The HTTP side of the wire-protocol providers (openai, anthropic): one POST of JSON that either resolves with the
 * parsed 2xx body or throws a taxonomy error (lambdas/core/errors.ts), and the classifier behind it.
 *
 * Transport (client timeout, body size cap, network errors) is the runtime's one HTTP client, lambdas/net/http-client.ts,
 * which HTTP tools and the retriever use too; this module adds what is specific to model providers: quota and
 * content-policy errors, `retry-after-ms`, strict JSON bodies, and keeping the API key out of every message.
 *
 * | response | error |
 * |---|---|
 * | 5xx, 529, 408 | TransientError |
 * | 402; 429 `insufficient_quota`; a quota/billing/spend-limit/credit message on 400/403/429 | QuotaExhausted |
 * | other 429 | RateLimited, `retryAfterSeconds` from `retry-after-ms` or `Retry-After` (seconds or HTTP date) |
 * | 400/413 `context_length_exceeded` or a "prompt is too long" message | ContextOverflow (compact and retry once) |
 * | 4xx with a content-policy code (`content_policy_violation`, `content_filter`) or message | ModelRefusal |
 * | other 3xx/4xx | BadRequest |
 * | 2xx over the read limit (1 MiB) | ResponseTooLarge (not retried → fallback) |
 * | 2xx that is not JSON (e.g. cut short) | TransientError |
 * | no answer within timeoutMs | TimeoutError |
 * | ECONNREFUSED, ECONNRESET, socket hang up, DNS | TransientError |
 */
import { type AgentError, CONTEXT_OVERFLOW_MESSAGE, ContextOverflow, ModelRefusal, QuotaExhausted, RateLimited, ResponseTooLarge, TransientError } from '../core/errors';
import { bodyExcerpt } from '../core/truncate';
import { classifyResponse, type FetchLike, type HttpResponse, MAX_READ_BYTES, parseRetryAfter, postJson } from '../net/http-client';

export type { FetchLike, HttpResponse };

/** Characters of a response body quoted in an error message. */
const EXCERPT_CHARS = 300;

/** What a provider call needs besides URL and body. */
export interface ProviderPostOptions {
  /** Names the provider and model in every error message, e.g. "openai gpt-4o-mini". */
  label: string;
  /** Client timeout of the whole call (headers and body). */
  timeoutMs: number;
  headers?: Record<string, string>;
  fetchImpl?: FetchLike;
  /** An outer abort (e.g. the Lambda deadline); reported as TimeoutError. */
  signal?: AbortSignal;
  /** Never appears in an error message (the API key: a server may echo it back). */
  secret?: string;
}

/**
 * POSTs JSON to a model provider and returns the parsed 2xx body. Never retries (Step Functions owns retries): one
 * call is exactly one request. Throws only taxonomy errors, classified by {@link classifyProviderResponse}.
 */
export async function postProviderJson(url: string, body: unknown, options: ProviderPostOptions): Promise<unknown> {
  try {
    const res = await postJson(url, body, { timeoutMs: options.timeoutMs, headers: options.headers, fetchImpl: options.fetchImpl, signal: options.signal, label: options.label });
    const error = classifyProviderResponse(res, options.label);
    if (error) throw error;
    return parseJsonBody(res, options.label);
  } catch (err) {
    throw redact(err, options.secret);
  }
}

/** Fields of a provider's error body, whatever its shape (OpenAI `{error:{code,type,message}}`, Anthropic `{type:"error",error:{type,message}}`, `{message}`, `{detail}`). */
export interface ProviderErrorInfo {
  code?: string;
  type?: string;
  message?: string;
}

/** Reads code, type and message from an error body; empty when the body is not JSON. */
export function providerErrorInfo(text: string): ProviderErrorInfo {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return {};
  }
  if (typeof json !== 'object' || json === null) return {};
  const top = json as Record<string, unknown>;
  const inner = typeof top.error === 'object' && top.error !== null ? (top.error as Record<string, unknown>) : top;
  const str = (v: unknown) => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined);
  return {
    code: str(inner.code),
    type: str(inner.type) === 'error' ? undefined : str(inner.type),
    message: str(inner.message) ?? str(top.error) ?? str(top.detail) ?? str(top.message),
  };
}

const QUOTA_CODES = new Set(['insufficient_quota', 'billing_hard_limit_reached', 'billing_not_active']);
const QUOTA_MESSAGE =
  /insufficient[_ ]quota|exceeded your current quota|quota (has been )?exceeded|credit balance is too low|insufficient (credits|balance)|spend(ing)? limit|billing (hard )?limit/i;
const POLICY_CODES = new Set(['content_policy_violation', 'content_filter', 'content_filtered']);
const POLICY_MESSAGE = /content[_ ](management[_ ])?polic|content[_ ]filter|safety system|\brefus(al|ed)\b/i;

/**
 * Retry-After of a 429, in seconds: `retry-after-ms` (OpenAI) first, then `Retry-After` (delta-seconds or an HTTP
 * date); undefined when neither is there or parsable.
 */
export function retryAfterSeconds(headers: Headers, now: number = Date.now()): number | undefined {
  const ms = headers.get('retry-after-ms')?.trim();
  if (ms && /^\d+(\.\d+)?$/.test(ms)) return Number(ms) / 1000;
  return parseRetryAfter(headers.get('retry-after'), now);
}

/**
 * The taxonomy error of a provider's HTTP response, or undefined for a 2xx. See the table at the top of this file;
 * everything not specific to model providers is delegated to the runtime's generic classifier.
 */
export function classifyProviderResponse(res: HttpResponse, label: string): AgentError | undefined {
  const { status } = res;
  if (status >= 200 && status < 300) return undefined;
  const info = providerErrorInfo(res.text);
  const body = bodyExcerpt(res.text, EXCERPT_CHARS);
  const codes = [info.code, info.type].filter((c): c is string => c !== undefined);
  const quota = codes.some((c) => QUOTA_CODES.has(c)) || QUOTA_MESSAGE.test(info.message ?? (status === 429 ? res.text : ''));
  if (status === 402 || ([400, 403, 429].includes(status) && quota)) {
    return new QuotaExhausted(`${label} returned HTTP ${status} (quota exhausted): ${body}`, { status });
  }
  if (status === 429) {
    const after = retryAfterSeconds(res.headers);
    return new RateLimited(`${label} returned HTTP 429 (rate limited${after === undefined ? '' : `, retry after ${after} s`}): ${body}`, {
      status,
      retryAfterSeconds: after,
    });
  }
  if ((status === 400 || status === 413) && (codes.includes('context_length_exceeded') || CONTEXT_OVERFLOW_MESSAGE.test(info.message ?? ''))) {
    return new ContextOverflow(`${label} returned HTTP ${status} (the prompt does not fit the model's context window): ${body}`, { status });
  }
  if (status >= 400 && status < 500 && ![401, 404, 408].includes(status) && (codes.some((c) => POLICY_CODES.has(c)) || POLICY_MESSAGE.test(info.message ?? ''))) {
    return new ModelRefusal(`${label} refused the request (HTTP ${status}, content policy): ${body}`, { status });
  }
  try {
    classifyResponse(res, label);
  } catch (err) {
    return err as AgentError;
  }
  return new TransientError(`${label} returned HTTP ${status}: ${body}`, { status });
}

/**
 * Parses a 2xx body. A body over the read limit is ResponseTooLarge (not retried: the same request would bring the
 * same answer); a body that is not JSON (cut short, an HTML error page from a proxy, …) is a TransientError.
 */
export function parseJsonBody(res: HttpResponse, label: string): unknown {
  if (res.unreadBytes > 0) {
    const total = res.unreadIsLowerBound ? `more than ${MAX_READ_BYTES} bytes` : `${Buffer.byteLength(res.text, 'utf8') + res.unreadBytes} bytes`;
    throw new ResponseTooLarge(`${label} returned a response too large to read (HTTP ${res.status}, ${total}; at most ${MAX_READ_BYTES} bytes are read); not retried`, {
      status: res.status,
    });
  }
  try {
    return JSON.parse(res.text);
  } catch {
    throw new TransientError(`${label} returned a malformed response (HTTP ${res.status}, not JSON): ${bodyExcerpt(res.text, 120)}`, { status: res.status });
  }
}

/** Removes `secret` from an error's message (and returns the error): a provider may echo the key back. */
export function redact<E>(err: E, secret: string | undefined): E {
  if (!secret || secret.length < 4 || !(err instanceof Error) || !err.message.includes(secret)) return err;
  err.message = err.message.split(secret).join('[redacted]');
  return err;
}
