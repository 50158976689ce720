import { excerpt } from '../answer';
import { needsDecision } from '../approvals';
import { type BudgetDecision, checkBudget } from '../budget';
import { type AgentError, BadRequest, BudgetExceeded, causeMessage, RateLimited, RetryAfterTooLong, retryAfterDecision, toAgentError } from '../errors';
import type { RunRecord, StoredMessage } from '../ports';
import { costMicros, type ModelPrice, type PriceSource, toMicros, toUsd } from '../pricing';
import { callSignature } from '../signature';
import { checkDailyCaps, hasDailyCaps, utcDay } from '../spend';
import { threadHistory } from '../threads';
import { type CaughtError, type Tier, trace } from '../trace';
import { refOf } from '../trace-refs';
import type { Message, ModelProvider, ModelRequest, ModelResponse, ToolCall, ToolSpec } from '../types';
import { type Invocation, isFinal, type LoopDeps, type LoopState, mustGetRun, SYSTEM_PROMPT, stoppedState } from './state';

export interface ModelStepInput {
  state: LoopState;
  /** The step being taken: the state machine's loop counter (state.step + 1). */
  step: number;
  tier: Tier;
  /** Set on the fallback tier: why the primary failed. */
  error?: CaughtError;
}

/**
 * CallModel / CallFallbackModel: one model call. Idempotent per (run, step): a retry after a lost response reuses
 * the stored assistant message and counts its tokens once. Throws BudgetExceeded when the call cannot fit the
 * token budget.
 */
export async function modelStep(deps: LoopDeps, input: ModelStepInput, invocation: Invocation = {}): Promise<LoopState> {
  const { state, step, tier } = input;
  // Every step re-reads the run first: a final run (CANCELLED, KILLED...) makes no model request.
  const run = await mustGetRun(deps.runs, state.runId);
  if (isFinal(run)) return stoppedState(run, state);
  if (tier === 'fallback' && input.error) await recordFallback(deps, run.runId, step, input.error);
  // A retried step whose answer is stored replays it: no second request, its tokens counted once.
  const stored: Answered | LoopState = (await deps.runs.getMessage(run.runId, step, 0)) ?? (await callModel(deps, run, input, invocation));
  if (!('message' in stored)) return stored;
  return recordStep(deps, stored.run ?? run, state, step, stored);
}

/** The primary failed (after its retries): the run records that it degraded, and the trace says why. */
async function recordFallback(deps: LoopDeps, runId: string, step: number, error: CaughtError): Promise<void> {
  const entry = { dependency: 'model:primary', reason: error.Error, fallback: 'model:fallback' };
  await deps.runs.addDegraded(runId, entry);
  await deps.runs.appendEvent(runId, trace.fallback({ step, ...entry, cause: excerpt(causeMessage(error.Cause), 500) }));
  deps.log?.('falling back', { runId, step, ...entry });
}

/** A stored answer of the step, with the run as read after the call (when the call was made by this invocation). */
type Answered = StoredMessage & { run?: RunRecord };

/** Everything a call needs, fixed before it is made. */
interface PreparedCall {
  tier: Tier;
  model: ModelProvider;
  priced: { price: ModelPrice; source: PriceSource } | undefined;
  conversation: StoredMessage[];
  request: Omit<ModelRequest, 'maxOutputTokens'>;
  estimated: number;
  budget: Extract<BudgetDecision, { ok: true }>;
}

/**
 * The call of a step with no stored answer: daily caps, the model of the tier, the tools, the token budget; then the
 * request, its answer stored with its trace event (or the stopped state when the run was finalized meanwhile).
 */
async function callModel(deps: LoopDeps, run: RunRecord, input: ModelStepInput, invocation: Invocation): Promise<Answered | LoopState> {
  const now = deps.now?.() ?? new Date();
  const tier = await spendCheck(deps, run, input.step, input.tier, now);
  const model = deps.model(tier);
  if (!model) throw new BadRequest(`no ${tier} model is configured`);
  const priced = deps.priceOf?.(model);
  if (run.maxCostUsd !== undefined && !priced) throw new BadRequest(`model "${model.model}" has no price, so the run's dollar budget cannot be checked: add it to "pricing"`);
  const conversation = await deps.runs.listMessages(run.runId);
  // A thread run starts from the thread's earlier runs (read from their own items, never copied into this one).
  const history = run.history?.length ? await (deps.history ?? threadHistory)(deps.runs, run) : [];
  const specs = await offeredTools(deps, run, input.step);
  const request = { system: deps.system ?? SYSTEM_PROMPT, messages: [...history, ...conversation.map((m) => m.message)], tools: specs };
  const estimated = deps.estimatePromptTokens(request);
  const budget = await tokenBudget(deps, run, input.step, { tier, priced, estimated });
  return send(deps, run, input, invocation, utcDay(now), { tier, model, priced, conversation, request, estimated, budget });
}

/**
 * The daily caps before a model call: past a cap the run surrenders (SPEND_LIMIT); past `fallbackAt` of a cap the
 * fallback model answers instead of the primary, and the run records that it degraded. Returns the tier to call.
 */
async function spendCheck(deps: LoopDeps, run: RunRecord, step: number, tier: Tier, now: Date): Promise<Tier> {
  if (!deps.spend || !deps.caps || !hasDailyCaps(deps.caps)) return tier;
  const spent = await deps.spend.today(run.userId, utcDay(now));
  const cap = checkDailyCaps(spent, deps.caps, now);
  if (!cap.ok) {
    await deps.runs.appendEvent(
      run.runId,
      trace.budget({ step, reason: 'SPEND_LIMIT', scope: cap.scope, message: cap.message, userSpendUsd: toUsd(spent.userMicros), totalSpendUsd: toUsd(spent.totalMicros) }),
    );
    throw new BudgetExceeded('SPEND_LIMIT', cap.message);
  }
  if (cap.degrade && tier === 'primary' && deps.model('fallback')) {
    const entry = { dependency: 'model:primary', reason: 'SPEND_FALLBACK', fallback: 'model:fallback' };
    await deps.runs.addDegraded(run.runId, entry);
    await deps.runs.appendEvent(run.runId, trace.fallback({ step, ...entry, cause: `daily spend past ${Math.round((deps.caps.fallbackAt ?? 0) * 100)}% of its cap` }));
    return 'fallback';
  }
  return tier;
}

/** The tools offered to this call; servers that could not be listed are recorded once as degraded. */
async function offeredTools(deps: LoopDeps, run: RunRecord, step: number): Promise<ToolSpec[]> {
  const tools = deps.listTools ? await deps.listTools() : { specs: deps.toolSpecs, unavailable: [] };
  for (const entry of tools.unavailable) {
    if ((run.degraded ?? []).some((d) => d.dependency === entry.dependency && d.fallback === entry.fallback)) continue;
    await deps.runs.addDegraded(run.runId, entry);
    await deps.runs.appendEvent(run.runId, trace.fallback({ step, ...entry, listing: true }));
    deps.log?.('tools unavailable', { runId: run.runId, step, ...entry });
  }
  return tools.specs;
}

/**
 * The token (and dollar) budget before the call: what the output may use, or BudgetExceeded (traced) when the call
 * cannot fit.
 */
async function tokenBudget(
  deps: LoopDeps,
  run: RunRecord,
  step: number,
  call: { tier: Tier; priced: PreparedCall['priced']; estimated: number },
): Promise<Extract<BudgetDecision, { ok: true }>> {
  const { priced, estimated } = call;
  const cost = run.maxCostUsd !== undefined && priced ? { usedMicros: run.costMicros ?? 0, maxMicros: toMicros(run.maxCostUsd), price: priced.price } : undefined;
  const used = run.tokensIn + run.tokensOut;
  const decision = checkBudget({
    used,
    maxTokens: run.maxTokens,
    estimatedPromptTokens: estimated,
    maxOutputTokens: deps.maxOutputTokens(call.tier),
    reserve: Math.floor(run.maxTokens * (deps.reserveRatio ?? 0)),
    cost,
  });
  if (decision.ok) return decision;
  await deps.runs.appendEvent(
    run.runId,
    trace.budget({
      step,
      reason: decision.reason,
      message: decision.message,
      estimatedPromptTokens: estimated,
      used,
      maxTokens: run.maxTokens,
      ...(cost ? { costUsd: toUsd(cost.usedMicros), maxCostUsd: run.maxCostUsd } : {}),
    }),
  );
  throw new BudgetExceeded(decision.reason, decision.message);
}

/** What every model_call event of one call says: which model, how long, the estimate. */
interface CallFacts {
  step: number;
  tier: Tier;
  provider: string;
  model: string;
  latencyMs: number;
  estimatedPromptTokens: number;
}

/** The request itself: the answer stored with its trace event, or the failure traced (and thrown for Retry/Catch). */
async function send(deps: LoopDeps, run: RunRecord, input: ModelStepInput, invocation: Invocation, day: string, call: PreparedCall): Promise<Answered | LoopState> {
  const clock = deps.clock ?? Date.now;
  const started = clock();
  const facts = (): CallFacts => ({
    step: input.step,
    tier: call.tier,
    provider: call.model.provider,
    model: call.model.model,
    latencyMs: clock() - started,
    estimatedPromptTokens: call.estimated,
  });
  try {
    const response = await call.model.complete({ ...call.request, maxOutputTokens: call.budget.maxOutputTokens });
    return await storeAnswer(deps, run, input, day, call, response, facts);
  } catch (err) {
    return callFailed(deps, run, input, invocation, toAgentError(err), facts);
  }
}

/**
 * The answer, stored once with its trace event in the same item; the day's spend added once. When the run was
 * finalized while the call was in flight (cancelled), the answer is not part of the run: the call is traced as
 * discarded (its tokens were spent) and the loop leaves at once.
 */
async function storeAnswer(
  deps: LoopDeps,
  run: RunRecord,
  input: ModelStepInput,
  day: string,
  call: PreparedCall,
  response: ModelResponse,
  facts: () => CallFacts,
): Promise<Answered | LoopState> {
  const { step } = input;
  // Traced at the time the answer arrived: a cancel that lands while it is being stored comes after it.
  const answeredAt = new Date().toISOString();
  const after = await mustGetRun(deps.runs, run.runId);
  if (isFinal(after)) {
    await deps.runs.appendEvent(run.runId, trace.modelCall({ ...facts(), usage: response.usage, finishReason: response.finishReason, discarded: after.status }));
    return stoppedState(after, input.state);
  }
  const message: Message = { role: 'assistant', content: response.text, toolCalls: response.toolCalls };
  const micros = call.priced ? costMicros(response.usage, call.priced.price) : 0;
  // The call's trace event goes in the message's item, referencing the messages instead of copying them
  // (../trace-refs.ts: the trace readers resolve them).
  const { stored, written } = await deps.runs.putMessage(
    run.runId,
    { step, seq: 0, message, usage: response.usage, at: new Date().toISOString(), tier: call.tier, model: `${call.model.provider}/${call.model.model}`, costMicros: micros },
    trace.modelCall({
      ...facts(),
      at: answeredAt,
      usage: response.usage,
      costUsd: toUsd(micros),
      priceSource: call.priced?.source ?? null,
      maxOutputTokens: call.budget.maxOutputTokens,
      finishReason: response.finishReason,
      input: { messages: call.request.messages.length, lastRef: refOf(call.conversation[call.conversation.length - 1]), tools: call.request.tools.map((t) => t.name) },
      outputRef: { step, seq: 0 },
    }),
  );
  // The day's counters: once per stored call (a retried step whose message is already stored adds nothing).
  if (written && micros > 0 && deps.spend) await deps.spend.add(after.userId, day, micros);
  return { ...stored, run: after };
}

/**
 * A failed call: traced; discarded when the run was finalized meanwhile (no retry, no fallback); else thrown for the
 * state machine's Retry and Catch, after waiting out a Retry-After that fits the retry window.
 */
async function callFailed(
  deps: LoopDeps,
  run: RunRecord,
  input: ModelStepInput,
  invocation: Invocation,
  e: AgentError,
  facts: () => CallFacts,
): Promise<LoopState> {
  const error = { name: e.name, message: excerpt(e.message, 1000), status: e.status ?? null };
  const now = await deps.runs.getRun(run.runId);
  if (now && isFinal(now)) {
    // Failed while the run was being cancelled: no retry, no fallback, nothing more to do.
    await deps.runs.appendEvent(run.runId, trace.modelCall({ ...facts(), error, discarded: now.status }));
    return stoppedState(now, input.state);
  }
  await deps.runs.appendEvent(run.runId, trace.modelCall({ ...facts(), error }));
  deps.log?.('model call failed', { runId: run.runId, step: input.step, tier: input.tier, error: e.name, message: e.message });
  if (e instanceof RateLimited) await waitForRetryAfter(deps, e, invocation);
  throw e;
}

/**
 * No retry sooner than Retry-After: wait here, then let the state machine's Retry (backoff on top) run. A Retry-After
 * beyond the retry window (or the time left) fails over at once instead (RetryAfterTooLong).
 */
async function waitForRetryAfter(deps: LoopDeps, e: RateLimited, invocation: Invocation): Promise<void> {
  if (e.retryAfterSeconds === undefined) return;
  const decision = retryAfterDecision({
    retryAfterSeconds: e.retryAfterSeconds,
    maxDelaySeconds: deps.maxRetryDelaySeconds ?? 20,
    remainingMs: invocation.remainingMs?.() ?? Number.POSITIVE_INFINITY,
  });
  if (decision.action === 'failover') throw new RetryAfterTooLong(`${e.message}; ${decision.reason}`, { status: e.status, cause: e });
  await (deps.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms))))(decision.waitMs);
}

/** The step's answer counted once (usage, cost, call signature) and turned into the next loop state. */
async function recordStep(deps: LoopDeps, run: RunRecord, state: LoopState, step: number, stored: StoredMessage): Promise<LoopState> {
  const allCalls = stored.message.role === 'assistant' ? stored.message.toolCalls : [];
  const toolCalls = await rejectExtraCalls(deps, run.runId, step, allCalls);
  const callSig = callSignature(allCalls);
  await deps.runs.recordModelStep(run.runId, step, stored.usage ?? { inputTokens: 0, outputTokens: 0 }, callSig, stored.costMicros ?? 0);
  return {
    runId: run.runId,
    step,
    maxSteps: state.maxSteps,
    maxTokens: state.maxTokens,
    outcome: toolCalls.length > 0 ? 'tools' : 'final',
    toolCalls: toolCalls.map((c) => ({ id: c.id })),
    toolCount: toolCalls.length,
    callSig,
    prevCallSig: state.callSig ?? '',
    // Read after the model call: a pause requested while the model was thinking stops at this boundary.
    pauseRequested: Boolean(run.pauseRequested),
    approvalRequired: needsDecision(deps.approvals, run, step, toolCalls),
  };
}

/**
 * The calls past `maxToolCallsPerStep` are not run: each is answered at once with an error result the model reads
 * (so the execution history stays bounded). Returns the calls that run.
 */
async function rejectExtraCalls(deps: LoopDeps, runId: string, step: number, allCalls: ToolCall[]): Promise<ToolCall[]> {
  const limit = deps.maxToolCallsPerStep ?? Number.POSITIVE_INFINITY;
  for (const [i, extra] of allCalls.slice(limit).entries()) {
    await deps.runs.putMessage(runId, {
      step,
      seq: limit + i + 1,
      message: { role: 'tool', toolCallId: extra.id, name: extra.name, content: `Not run: at most ${limit} tool calls run per step; ask again in the next step if you still need it.`, isError: true },
      at: new Date().toISOString(),
    });
  }
  return allCalls.slice(0, limit);
}
