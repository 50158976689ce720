import { MAX_OUTPUT_SCHEMA_BYTES, type OutputSpec, schemaProblem } from '../core/output';
import { priceOf } from '../core/pricing';
import type { ThreadRepository } from '../core/threads';
import * as z from '../core/validation';
import { type ApiDeps, type ApiRequest, HttpError, MAX_PAGE_SIZE } from './http';

/** The checks of a request's parts that several routes share (bodies, keys, pages, budgets, schemas). */

/** Largest prompt accepted, in characters. */
export const MAX_INPUT_CHARS = 32_000;
/** Largest request body accepted, in bytes (API Gateway and the local server). */
export const MAX_BODY_BYTES = 64 * 1024;

/** At least one character that is not white space, a control or an invisible (zero-width, BOM, joiner...) one. */
const VISIBLE = /[^\p{White_Space}\p{Cc}\p{Default_Ignorable_Code_Point}]/u;

export const StartRunBody = z.strictObject({
  input: z.string().check(
    z.trim(),
    z.minLength(1, 'must be a non-empty string'),
    z.maxLength(MAX_INPUT_CHARS, `must be at most ${MAX_INPUT_CHARS} characters`),
    z.refine((s: string) => VISIBLE.test(s), 'must contain visible text (not only white space or zero-width characters)'),
  ),
  budgets: z.optional(
    z.strictObject({
      maxSteps: z.optional(z.int().check(z.positive())),
      maxTokens: z.optional(z.int().check(z.positive())),
      maxCostUsd: z.optional(z.number().check(z.positive())),
    }),
  ),
  /** The JSON Schema the final answer must satisfy (docs/agent.md "Structured output"; at most 16 KB). */
  outputSchema: z.optional(z.record(z.string(), z.unknown())),
});

/** Idempotency keys: 1-255 printable ASCII characters. */
export const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/** A dollar budget needs priced models: refused (422) before anything is written when one has no price. */
export function assertPriced(deps: ApiDeps, budgets: { maxCostUsd?: number } | undefined): void {
  if (budgets?.maxCostUsd === undefined) return;
  const models = [deps.config.models.primary, deps.config.models.fallback].filter((m) => m !== undefined);
  const unpriced = models.find((m) => !priceOf(m, deps.config.pricing));
  if (unpriced) throw new HttpError(422, 'INVALID_REQUEST', `budgets.maxCostUsd needs priced models, and "${unpriced.model}" has no price in the deployment's pricing`);
}

/** The request's JSON body: 415 without Content-Type: application/json, 413 past the size limit, 400 when not JSON. */
export function readJsonBody(req: ApiRequest, example: string): unknown {
  const contentType = (req.headers['content-type'] ?? '').toLowerCase();
  if (!/^application\/json\s*(;|$)/.test(contentType)) throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', 'send Content-Type: application/json');
  if (Buffer.byteLength(req.body ?? '', 'utf8') > MAX_BODY_BYTES) throw new HttpError(413, 'PAYLOAD_TOO_LARGE', `the body must be at most ${MAX_BODY_BYTES} bytes`);
  try {
    return JSON.parse(req.body ?? '');
  } catch {
    throw new HttpError(400, 'MALFORMED_JSON', `the body must be a JSON object like ${example}`);
  }
}

/** The `index`th path parameter of `pattern` in the request's path, decoded; '' when absent or not decodable. */
export function pathParam(path: string, pattern: RegExp, index = 1): string {
  try {
    return decodeURIComponent(pattern.exec(path.replace(/\/+$/, ''))?.[index] ?? '');
  } catch {
    return '';
  }
}

/** What the body checks need of a schema (a zod/mini schema). */
interface BodySchema<T> {
  safeParse(value: unknown): { success: true; data: T } | { success: false; error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] } };
}

/** A parsed body checked by `schema`: 422 naming each issue and what is `allowed`. */
export function checkedBody<T>(raw: unknown, schema: BodySchema<T>, allowed: string): T {
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const msg = parsed.error.issues.map((i) => `${i.path.map(String).join('.') || 'body'}: ${i.message}`).join('; ');
  throw new HttpError(422, 'INVALID_REQUEST', `${msg} (allowed: ${allowed})`);
}

/** The request's Idempotency-Key header, when it has a valid one (400 for a malformed one). */
export function validIdempotencyKey(req: ApiRequest): string | undefined {
  const key = req.headers['idempotency-key'];
  if (key !== undefined && !IDEMPOTENCY_KEY.test(key)) throw new HttpError(400, 'INVALID_IDEMPOTENCY_KEY', 'Idempotency-Key must be 1-255 printable ASCII characters');
  return key;
}

/** A page's `limit` query parameter: decimal digits only, 1 to MAX_PAGE_SIZE, 20 when absent. */
export function pageLimit(limitText: string | undefined): number {
  // Decimal digits only: Number() would also take "0x10", "1e1", " 5", "0b11".
  const limit = limitText === undefined ? 20 : /^[0-9]{1,3}$/.test(limitText) ? Number(limitText) : Number.NaN;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE) throw new HttpError(400, 'INVALID_QUERY', `limit must be a whole number from 1 to ${MAX_PAGE_SIZE}`);
  return limit;
}

/** A request's `outputSchema`: 413 past its size limit, 422 when it is not a usable JSON Schema. */
export function checkOutputSchema(outputSchema: Record<string, unknown> | undefined): void {
  if (outputSchema === undefined) return;
  const size = Buffer.byteLength(JSON.stringify(outputSchema), 'utf8');
  if (size > MAX_OUTPUT_SCHEMA_BYTES) throw new HttpError(413, 'PAYLOAD_TOO_LARGE', `outputSchema must be at most ${MAX_OUTPUT_SCHEMA_BYTES} bytes serialized (got ${size})`);
  const problem = schemaProblem(outputSchema);
  if (problem) throw new HttpError(422, 'INVALID_REQUEST', `outputSchema ${problem}`);
}

/** The run's `outputSchema` field from a request's schema (named as the deployment's output, else final_answer). */
export function outputSpecOf(deps: ApiDeps, outputSchema: Record<string, unknown> | undefined): { outputSchema?: OutputSpec } {
  return outputSchema ? { outputSchema: { schema: outputSchema, name: deps.config.output?.name ?? 'final_answer' } } : {};
}

export function threadsOf(deps: ApiDeps): ThreadRepository {
  if (!deps.threads) throw new HttpError(404, 'NOT_FOUND', 'threads are not available in this deployment');
  return deps.threads;
}

/** What erasing needs: the threads, the run store's reads, the run items' deletes, the control's cancel. */
export function eraseDepsOf(deps: ApiDeps) {
  const { runItems } = deps;
  if (!runItems) throw new HttpError(404, 'NOT_FOUND', 'erasing is not available in this deployment');
  return {
    runs: { getRun: (id: string) => deps.runs.getRun(id), listRunsByUser: deps.runs.listRunsByUser.bind(deps.runs), eraseRun: (id: string) => runItems.eraseRun(id) },
    threads: threadsOf(deps),
    control: deps.control,
  };
}
