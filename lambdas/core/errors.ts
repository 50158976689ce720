/**
 * The one error taxonomy (docs/resilience.md). The class `name` is what the state machine's Retry and Catch match, so every
 * class sets it explicitly (minifiers rename classes). Providers, tools and the breaker throw only these.
 */

import type { StopReason } from './types';

/** Base of every classified failure. `retryable` and `countsForBreaker` mirror the taxonomy table. */
export abstract class AgentError extends Error {
  abstract readonly retryable: boolean;
  abstract readonly countsForBreaker: boolean;
  /** HTTP status of the upstream response, when there was one. */
  readonly status?: number;
  constructor(message: string, options?: { status?: number; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    if (options?.status !== undefined) this.status = options.status;
  }
}

/** 5xx, 529, network error, malformed provider response. Retried; counts for the breaker. */
export class TransientError extends AgentError {
  readonly retryable = true;
  readonly countsForBreaker = true;
  override name = 'TransientError';
}

/** 429 rate limit. Retried no sooner than `retryAfterSeconds`; counts for the breaker. */
export class RateLimited extends AgentError {
  readonly retryable = true;
  readonly countsForBreaker = true;
  override name = 'RateLimited';
  readonly retryAfterSeconds?: number;
  constructor(message: string, options?: { status?: number; retryAfterSeconds?: number; cause?: unknown }) {
    super(message, options);
    if (options?.retryAfterSeconds !== undefined) this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

/**
 * A 429 whose Retry-After lies beyond the retry window (retry.maxDelaySeconds, or the time the handler has left):
 * waiting would break the timeout chain, so the call fails over at once. Never retried; counts for the breaker.
 */
export class RetryAfterTooLong extends AgentError {
  readonly retryable = false;
  readonly countsForBreaker = true;
  override name = 'RetryAfterTooLong';
}

/** The client timeout fired before the dependency answered. Retried; counts for the breaker. */
export class TimeoutError extends AgentError {
  readonly retryable = true;
  readonly countsForBreaker = true;
  override name = 'TimeoutError';
}

/** The breaker refused the call; no request was sent. Never retried: straight to the fallback. */
export class CircuitOpen extends AgentError {
  readonly retryable = false;
  readonly countsForBreaker = false;
  override name = 'CircuitOpen';
}

/** 429 insufficient_quota / spend limit. Never retried (waiting does not help); counts for the breaker. */
export class QuotaExhausted extends AgentError {
  readonly retryable = false;
  readonly countsForBreaker = true;
  override name = 'QuotaExhausted';
}

/** The model refused on content grounds. Never retried; not the dependency's fault. */
export class ModelRefusal extends AgentError {
  readonly retryable = false;
  readonly countsForBreaker = false;
  override name = 'ModelRefusal';
}

/** Any other 4xx or a validation failure. Never retried; not the dependency's fault. */
export class BadRequest extends AgentError {
  readonly retryable = false;
  readonly countsForBreaker = false;
  override name = 'BadRequest';
}

/**
 * The provider refused the request because the prompt does not fit the model's context window (OpenAI
 * `context_length_exceeded`, Anthropic "prompt is too long", Bedrock ValidationException "Input is too long"). Not a
 * retry of the same request and not an outage: the model step compacts the conversation harder and retries once
 * (lambdas/core/context.ts). Not the dependency's fault.
 */
export class ContextOverflow extends AgentError {
  readonly retryable = false;
  readonly countsForBreaker = false;
  override name = 'ContextOverflow';
}

/** The provider messages that say the prompt is longer than the model's context window. */
export const CONTEXT_OVERFLOW_MESSAGE =
  /context[_ ]length[_ ]exceeded|maximum context length|prompt is too long|input is too long|too many (input )?tokens|exceeds? the (model's )?context window/i;

/** Why a budget stopped a run; the error message starts with it (`<reason>: …`), and the run's stopReason is it. */
export type BudgetReason = Extract<StopReason, 'STEP_BUDGET' | 'TOKEN_BUDGET' | 'COST_BUDGET' | 'SPEND_LIMIT' | 'CONTEXT_WINDOW'>;
/** CONTEXT_WINDOW: the conversation does not fit the model's window even compacted (lambdas/core/context.ts). */
export const BUDGET_REASONS: readonly BudgetReason[] = ['STEP_BUDGET', 'TOKEN_BUDGET', 'COST_BUDGET', 'SPEND_LIMIT', 'CONTEXT_WINDOW'];

/**
 * The budget reason of a BudgetExceeded error as the state machine's Catch put it in the state: `Cause` is the
 * error message offline and the Lambda error JSON (`{"errorMessage": …}`) in AWS. Undefined for anything else.
 */
export function budgetReasonOf(error: { Error?: string; Cause?: string } | undefined): BudgetReason | undefined {
  if (error?.Error !== 'BudgetExceeded') return undefined;
  let message = String(error.Cause ?? '');
  try {
    const parsed = JSON.parse(message) as { errorMessage?: unknown };
    if (typeof parsed?.errorMessage === 'string') message = parsed.errorMessage;
  } catch {
    /* a plain message */
  }
  return BUDGET_REASONS.find((r) => message.startsWith(`${r}:`));
}

/** The next call would cross a budget (steps, tokens, dollars, a daily cap, the context window). Never retried: the run surrenders. */
export class BudgetExceeded extends AgentError {
  readonly retryable = false;
  readonly countsForBreaker = false;
  override name = 'BudgetExceeded';
  readonly reason: BudgetReason;
  constructor(reason: BudgetReason, message: string) {
    super(`${reason}: ${message}`);
    this.reason = reason;
  }
}

/** A state change that does not apply to the run as it is (e.g. resume a run that is not paused). */
export class Conflict extends AgentError {
  readonly retryable = false;
  readonly countsForBreaker = false;
  override name = 'Conflict';
}

/** A thread already has an active run and the request asked not to wait or interrupt (HTTP 409 THREAD_BUSY). */
export class ThreadBusy extends Conflict {
  override name = 'ThreadBusy';
}

/**
 * The run was created but its execution could not be started: the run is FAILED (START_FAILED) and the
 * Idempotency-Key released, so the client may retry the same request, same key, to a real start. Retryable (5xx).
 */
export class StartFailed extends AgentError {
  readonly retryable = true;
  readonly countsForBreaker = false;
  override name = 'StartFailed';
}

/** A decision on a call whose approval expired (its `expiresAt` passed): HTTP 409 APPROVAL_EXPIRED. Never retried. */
export class ApprovalExpired extends AgentError {
  readonly retryable = false;
  readonly countsForBreaker = false;
  override name = 'ApprovalExpired';
}

/**
 * An Idempotency-Key sent again with another request than the one it first came with (a different prompt, budgets,
 * ...): the key names that first request's run, so the new request is refused (HTTP 422 IDEMPOTENCY_KEY_REUSED, as
 * the IETF Idempotency-Key draft answers). Never retried.
 */
export class IdempotencyKeyReused extends AgentError {
  readonly retryable = false;
  readonly countsForBreaker = false;
  override name = 'IdempotencyKeyReused';
}

/**
 * What Step Functions reports when a Lambda function crashed (out of memory, process exit) or ran past its own
 * timeout: no error type of ours. Every Task retries these (each handler is idempotent) and then fails over or, for
 * bookkeeping tasks, fails the execution, which closes the run FAILED.
 */
export const LAMBDA_CRASH_ERRORS = ['Lambda.Unknown', 'Sandbox.Timedout'] as const;

/**
 * The human part of a caught error's Cause: a Lambda function error's Cause is a JSON document
 * `{"errorType", "errorMessage", "trace"}`; the model, the trace and the run's answer get the errorMessage only.
 */
export function causeMessage(cause: unknown): string {
  const text = typeof cause === 'string' ? cause : cause === undefined || cause === null ? '' : JSON.stringify(cause);
  if (!text.startsWith('{')) return text;
  try {
    const doc = JSON.parse(text) as { errorMessage?: unknown; errorType?: unknown };
    if (typeof doc.errorMessage === 'string') return doc.errorMessage;
  } catch {
    /* not JSON: the text itself */
  }
  return text;
}

/**
 * A dependency's answer was larger than the client reads (lambdas/net/http-client.ts MAX_READ_BYTES): the same request
 * would bring the same oversized answer, so it is never retried; the call fails over (e.g. to the fallback model).
 * Not counted by the breaker: the dependency is up.
 */
export class ResponseTooLarge extends AgentError {
  readonly retryable = false;
  readonly countsForBreaker = false;
  override name = 'ResponseTooLarge';
}

/**
 * The run is already CANCELLED, KILLED or otherwise final: the step does no work and the execution leaves the loop
 * (the Pause state catches it into Stopped). Never retried; not a dependency's fault.
 */
export class RunStopped extends AgentError {
  readonly retryable = false;
  readonly countsForBreaker = false;
  override name = 'RunStopped';
}

/**
 * Every class of the taxonomy by its name, the one list: a trace records the name, a replay re-raises the class
 * (errorFromName), and the state machine's Retry lists are read from it. `dependency`: a failure of a dependency call
 * (a model, a tool), as opposed to the run's own stops (its budget, its start, a run already final).
 */
const TAXONOMY = {
  TransientError: { dependency: true, make: (m: string) => new TransientError(m) },
  RateLimited: { dependency: true, make: (m: string) => new RateLimited(m) },
  RetryAfterTooLong: { dependency: true, make: (m: string) => new RetryAfterTooLong(m) },
  TimeoutError: { dependency: true, make: (m: string) => new TimeoutError(m) },
  CircuitOpen: { dependency: true, make: (m: string) => new CircuitOpen(m) },
  QuotaExhausted: { dependency: true, make: (m: string) => new QuotaExhausted(m) },
  ModelRefusal: { dependency: true, make: (m: string) => new ModelRefusal(m) },
  BadRequest: { dependency: true, make: (m: string) => new BadRequest(m) },
  ResponseTooLarge: { dependency: true, make: (m: string) => new ResponseTooLarge(m) },
  ContextOverflow: { dependency: true, make: (m: string) => new ContextOverflow(m) },
  Conflict: { dependency: false, make: (m: string) => new Conflict(m) },
  ThreadBusy: { dependency: false, make: (m: string) => new ThreadBusy(m) },
  BudgetExceeded: {
    dependency: false,
    // The message starts with its reason (`TOKEN_BUDGET: …`): the replayed error carries the same one.
    make: (m: string) => {
      const reason = BUDGET_REASONS.find((r) => m.startsWith(`${r}: `)) ?? 'TOKEN_BUDGET';
      return new BudgetExceeded(reason, m.startsWith(`${reason}: `) ? m.slice(reason.length + 2) : m);
    },
  },
  StartFailed: { dependency: false, make: (m: string) => new StartFailed(m) },
  ApprovalExpired: { dependency: false, make: (m: string) => new ApprovalExpired(m) },
  IdempotencyKeyReused: { dependency: false, make: (m: string) => new IdempotencyKeyReused(m) },
  RunStopped: { dependency: false, make: (m: string) => new RunStopped(m) },
} as const satisfies Record<string, { dependency: boolean; make: (message: string) => AgentError }>;

export type ErrorName = keyof typeof TAXONOMY;
/** Every name in the taxonomy. */
export const ERROR_NAMES = Object.keys(TAXONOMY) as ErrorName[];

/** True for a name of the taxonomy (a recorded name is only a string). */
export const isErrorName = (name: unknown): name is ErrorName => typeof name === 'string' && Object.hasOwn(TAXONOMY, name);

/**
 * Error names the state machine retries (with backoff and full jitter): the dependency failures whose class says
 * `retryable`, read from the classes so the ASL's Retry lists cannot drift from the taxonomy.
 */
export const RETRYABLE_ERRORS: readonly ErrorName[] = ERROR_NAMES.filter((name) => TAXONOMY[name].dependency && TAXONOMY[name].make('retryable?').retryable);

/** True when a failure of this kind says the dependency is unhealthy (feeds the breaker). */
export function countsForBreaker(err: unknown): boolean {
  if (err instanceof AgentError) return err.countsForBreaker;
  return true; // an unclassified failure of the dependency call is treated as the dependency's fault
}

/** Classifies anything thrown into the taxonomy; unknown errors become TransientError. */
export function toAgentError(err: unknown): AgentError {
  if (err instanceof AgentError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new TransientError(message, { cause: err });
}

/** What to do with a 429 that named a Retry-After: wait it out here (the state machine's retry comes after), or fail over. */
export function retryAfterDecision(input: {
  retryAfterSeconds: number | undefined;
  maxDelaySeconds: number;
  /** Time the handler has left, in ms. */
  remainingMs: number;
}): { action: 'retry'; waitMs: number } | { action: 'failover'; reason: string } {
  const wait = Math.max(0, (input.retryAfterSeconds ?? 0) * 1000);
  if (wait > input.maxDelaySeconds * 1000) {
    return { action: 'failover', reason: `Retry-After ${input.retryAfterSeconds} s is beyond the retry window (${input.maxDelaySeconds} s)` };
  }
  if (wait + 2000 > input.remainingMs) {
    return { action: 'failover', reason: `Retry-After ${input.retryAfterSeconds} s does not fit in the ${Math.floor(input.remainingMs / 1000)} s the handler has left` };
  }
  return { action: 'retry', waitMs: wait };
}

/** The taxonomy error of a recorded name (replays re-raise what a trace recorded); unknown names are transient. */
export function errorFromName(name: string, message: string): AgentError {
  return isErrorName(name) ? TAXONOMY[name].make(message) : new TransientError(`${name}: ${message}`);
}
