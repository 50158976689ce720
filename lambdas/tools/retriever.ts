/**
 * The `retriever` tool kind: an external search endpoint with the built-in keyword search as its fallback.
 *
 * Request: `POST <url>` with JSON `{"query": string, "k": number}` (plus `Content-Type: application/json` and the
 * call's `Idempotency-Key`), client timeout `timeoutMs`.
 *
 * Accepted response (JSON, 2xx):
 *   { "results": [ { "text": string, "title"?: string, "url"?: string, "score"?: number }, ... ] }
 * or the bare array `[ { "text": ... }, ... ]`. `content`, `snippet`, `passage` or `chunk` are accepted in place of
 * `text`, `source`/`link` in place of `url`, `name` in place of `title`; other keys are ignored. Items without any
 * text are dropped; at most `k` items are kept, each text cut to {@link MAX_PASSAGE_CHARS} characters. A body
 * that is not JSON or not of this shape is a TransientError (malformed response), like a 5xx.
 *
 * Errors are classified as for the http tool (timeout → TimeoutError, 5xx/network → TransientError, 429 →
 * RateLimited, other 4xx → BadRequest). {@link retrieveWithFallback} turns every failure except BadRequest into
 * the keyword fallback's results, marked `degraded` so the model and the user are told.
 */

import type { ToolConfig } from '../core/config';
import { BadRequest, TransientError, toAgentError } from '../core/errors';
import type { DegradedEntry } from '../core/types';
import * as z from '../core/validation';
import { classifyResponse, type FetchLike, type Guard, identityGuard, postJson } from './http-tool';
import { DEFAULT_K, defaultDocsDir, keywordSearch, MAX_K } from './keyword-search';
import { argumentsSchema, errorToResult, invalidArgumentsResult, type Tool, type ToolContext, type ToolResult, truncateUtf8 } from './types';

export type RetrieverToolConfig = Extract<ToolConfig, { kind: 'retriever' }>;

/** One retrieved passage (the same shape whether the endpoint or the keyword fallback answered). */
export interface Passage {
  title?: string;
  text: string;
  url?: string;
  score?: number;
}

export interface RetrievalResult {
  results: Passage[];
  /** Present when the primary retriever failed and the fallback answered. */
  degraded?: DegradedEntry;
}

export const MAX_PASSAGE_CHARS = 2000;

function pickString(item: Record<string, unknown>, keys: string[]): string | undefined {
  for (const key of keys) {
    const v = item[key];
    if (typeof v === 'string' && v.trim() !== '') return v;
  }
  return undefined;
}

/**
 * Normalises a retriever response body (see the module comment for the accepted shape); throws TransientError
 * when it is not of that shape.
 */
export function parseRetrieverResponse(body: unknown, k: number = MAX_K): Passage[] {
  const list = Array.isArray(body)
    ? body
    : typeof body === 'object' && body !== null && Array.isArray((body as { results?: unknown }).results)
      ? ((body as { results: unknown[] }).results as unknown[])
      : undefined;
  if (list === undefined) {
    throw new TransientError('malformed retriever response: expected {"results": [...]} or an array of {text, title?, url?, score?}');
  }
  const passages: Passage[] = [];
  for (const raw of list) {
    if (typeof raw === 'string') {
      if (raw.trim()) passages.push({ text: raw.slice(0, MAX_PASSAGE_CHARS) });
      continue;
    }
    if (typeof raw !== 'object' || raw === null) continue;
    const item = raw as Record<string, unknown>;
    const text = pickString(item, ['text', 'content', 'snippet', 'passage', 'chunk']);
    if (text === undefined) continue;
    const passage: Passage = { text: text.length > MAX_PASSAGE_CHARS ? `${text.slice(0, MAX_PASSAGE_CHARS)}…` : text };
    const title = pickString(item, ['title', 'name']);
    if (title !== undefined) passage.title = title;
    const url = pickString(item, ['url', 'source', 'link']);
    if (url !== undefined) passage.url = url;
    if (typeof item.score === 'number' && Number.isFinite(item.score)) passage.score = item.score;
    passages.push(passage);
  }
  if (list.length > 0 && passages.length === 0) {
    throw new TransientError('malformed retriever response: no result has a "text" string');
  }
  return passages.slice(0, k);
}

/** One call of the external retriever. Throws taxonomy errors. */
export async function callRetriever(
  config: Pick<RetrieverToolConfig, 'name' | 'url' | 'timeoutMs'>,
  query: string,
  k: number,
  options: { fetchImpl?: FetchLike; signal?: AbortSignal; idempotencyKey?: string } = {},
): Promise<RetrievalResult> {
  const label = `retriever ${config.name}`;
  const res = await postJson(config.url, { query, k }, { timeoutMs: config.timeoutMs, label, ...options });
  classifyResponse(res, label);
  let body: unknown;
  try {
    body = JSON.parse(res.text);
  } catch (err) {
    throw new TransientError(`malformed ${label} response: not JSON (HTTP ${res.status})`, { cause: err });
  }
  return { results: parseRetrieverResponse(body, k) };
}

/**
 * Tries `primary`; on any failure but BadRequest (TransientError, TimeoutError, RateLimited, CircuitOpen,
 * QuotaExhausted, or an unclassified error) returns the fallback's results with
 * `degraded: {dependency: 'tool:<name>', reason: <error name>, fallback: 'keyword'}`. BadRequest is re-thrown (the
 * query itself is wrong; the fallback would not help). If the fallback fails too, the primary's error is thrown.
 */
export async function retrieveWithFallback(
  query: string,
  deps: {
    primary: (query: string) => Promise<RetrievalResult>;
    fallback: (query: string) => Promise<RetrievalResult>;
    /** The tool's name, for the `tool:<name>` dependency (default "retriever"). */
    name?: string;
  },
): Promise<RetrievalResult> {
  try {
    return await deps.primary(query);
  } catch (err) {
    const primaryError = toAgentError(err);
    if (primaryError instanceof BadRequest) throw primaryError;
    let fallback: RetrievalResult;
    try {
      fallback = await deps.fallback(query);
    } catch {
      throw primaryError;
    }
    return {
      results: fallback.results,
      degraded: { dependency: `tool:${deps.name ?? 'retriever'}`, reason: primaryError.name, fallback: 'keyword' },
    };
  }
}

export const RetrieverArgs = z.object({
  query: z.string().check(z.trim(), z.minLength(1, 'must not be empty'), z.maxLength(1000, 'at most 1000 characters'), z.describe('What to search for.')),
  k: z.optional(z.int().check(z.minimum(1), z.maximum(MAX_K), z.describe(`How many passages (default ${DEFAULT_K}).`))),
});

const ARGUMENTS = argumentsSchema(RetrieverArgs);

/** Renders passages (and the degradation notice) for the model. */
export function formatRetrieval(result: RetrievalResult): string {
  const lines: string[] = [];
  if (result.degraded) {
    lines.push(
      `NOTE: the search service is unavailable (${result.degraded.reason}); these results come from the built-in ` +
        'keyword search over the documentation and may be less relevant. Tell the user the answer used a fallback.',
    );
  }
  if (result.results.length === 0) lines.push('No results.');
  result.results.forEach((p, i) => {
    const meta = [p.title, p.url, p.score === undefined ? undefined : `score ${p.score}`].filter(Boolean).join(' — ');
    lines.push(`[${i + 1}]${meta ? ` ${meta}` : ''}\n${p.text}`);
  });
  return lines.join('\n\n');
}

/**
 * A configured retriever. The endpoint call goes through `guard("tool:<name>", …)`; its failures (including a
 * refusal by the breaker) fall back to keyword search over `docsDir`, and the result is marked degraded.
 */
export function createRetrieverTool(config: RetrieverToolConfig, deps: { docsDir?: string; fetchImpl?: FetchLike; guard?: Guard } = {}): Tool {
  const guard = deps.guard ?? identityGuard;
  const dependency = `tool:${config.name}`;
  return {
    spec: {
      name: config.name,
      description: config.description,
      get parameters() {
        return ARGUMENTS.parameters;
      },
    },
    async run(args: unknown, ctx: ToolContext): Promise<ToolResult> {
      const parsed = RetrieverArgs.safeParse(args);
      if (!parsed.success) return invalidArgumentsResult(config.name, parsed.error, ARGUMENTS.allowed);
      const k = parsed.data.k ?? DEFAULT_K;
      try {
        const result = await retrieveWithFallback(parsed.data.query, {
          name: config.name,
          primary: (query) => guard(dependency, () => callRetriever(config, query, k, { fetchImpl: deps.fetchImpl, signal: ctx.signal, idempotencyKey: ctx.idempotencyKey })),
          fallback: async (query) => ({
            results: keywordSearch(query, { docsDir: deps.docsDir ?? defaultDocsDir(), k }).map((h) => ({
              title: `${h.file} — ${h.heading}`,
              text: h.snippet,
              url: h.file,
              score: h.score,
            })),
          }),
        });
        const out: ToolResult = { content: truncateUtf8(formatRetrieval(result)), data: result };
        if (result.degraded) out.degraded = result.degraded;
        return out;
      } catch (err) {
        return errorToResult(config.name, err);
      }
    },
  };
}
