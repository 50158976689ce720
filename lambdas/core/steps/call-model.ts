import { excerpt } from '../answer';
import { needsDecision } from '../approvals';
import { type BudgetDecision, checkBudget } from '../budget';
import { promptMessages } from '../context';
import { type AgentError, BadRequest, BudgetExceeded, ContextOverflow, causeMessage, RateLimited, RetryAfterTooLong, retryAfterDecision, toAgentError } from '../errors';
import { type Instructions, instructionsHash, instructionsOf } from '../instructions';
import { checkOutput, type OutputSpec, repairPrompt } from '../output';
import type { RunRecord, StoredMessage } from '../ports';
import { costMicros, type ModelPrice, type PriceSource, toMicros, toUsd } from '../pricing';
import { callSignature } from '../signature';
import { utcDay } from '../spend';
import { threadConversation } from '../threads';
import { type CaughtError, type Tier, trace } from '../trace';
import { refOf } from '../trace-refs';
import type { Message, ModelProvider, ModelRequest, ModelResponse, ToolCall, Usage } from '../types';
import { addUsage, type CallBase, compact, estimateOf, pendingMicros, pendingUsage } from './compaction';
import { type DailyLeft, offeredTools, spendCheck, tokenBudget } from './model-checks';
import { withModelClaim } from './model-claim';
import { type Invocation, isFinal, type LoopDeps, type LoopState, mustGetRun, stoppedState } from './state';

export interface ModelStepInput {
  state: LoopState;
  /** The step being taken: the state machine's loop counter (state.step + 1). */
  step: number;
  tier: Tier;
  /** Set on the fallback tier: why the primary failed. */
  error?: CaughtError;
  /**
   * The hybrid engine's Express segment (docs/hybrid.md): when it started (`$$.Execution.StartTime`) and how many
   * seconds it may run before it hands the loop back to its parent at the next tool-call boundary.
   */
  segment?: SegmentClock;
}

export interface SegmentClock {
  startedAt: string;
  seconds: number;
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
  const stored: Answered | LoopState =
    (await deps.runs.getMessage(run.runId, step, 0)) ??
    (await withModelClaim(input.segment ? deps : { ...deps, modelClaims: undefined }, run.runId, step, invocation, () => callModel(deps, run, input, invocation)));
  if (!('message' in stored)) return stored;
  const next = await recordStep(deps, stored.run ?? run, state, step, stored, outputSpecOf(deps, run));
  return input.segment && segmentDue(input.segment, deps.now?.() ?? new Date()) ? { ...next, segmentDue: true } : next;
}

/**
 * Whether a segment has run its time, read after the step's model call: what remains of the segment (this step's
 * tools, the next model call) must fit in Express's limit, so Route ends the segment here. Throws on a start time
 * that is not a date (the state machine passes `$$.Execution.StartTime`).
 */
export function segmentDue(clock: SegmentClock, now: Date): boolean {
  const started = Date.parse(clock.startedAt);
  if (Number.isNaN(started)) throw new BadRequest(`segment.startedAt must be an ISO 8601 date (the segment's $$.Execution.StartTime); got ${JSON.stringify(clock.startedAt)}`);
  return now.getTime() - started >= clock.seconds * 1000;
}

/** The schema the run's final answer must satisfy: the request's, else the config's; none when neither. */
export function outputSpecOf(deps: Pick<LoopDeps, 'output'>, run: RunRecord): OutputSpec | undefined {
  return run.outputSchema ?? deps.output;
}

/** The instructions of every call: a system prompt a test set, else the config's, else the default. */
function instructionsFor(deps: LoopDeps): Instructions {
  if (deps.system !== undefined) return { text: deps.system, hash: instructionsHash(deps.system) };
  return deps.instructions ?? instructionsOf({});
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
  instructions: Instructions;
  output: OutputSpec | undefined;
  /** The run as this call sees it (its context view included). */
  run: RunRecord;
  /** Set once the provider said the prompt did not fit and the conversation was compacted harder: no second retry. */
  overflowRetried?: boolean;
  /** The answer is the repair turn of one that failed its output schema: the first answer's usage (traced on its own event). */
  repairedAfter?: Usage;
}

/**
 * The call of a step with no stored answer: daily caps, the model of the tier, the tools, the token budget; then the
 * request, its answer stored with its trace event (or the stopped state when the run was finalized meanwhile).
 */
async function callModel(deps: LoopDeps, run: RunRecord, input: ModelStepInput, invocation: Invocation): Promise<Answered | LoopState> {
  const now = deps.now?.() ?? new Date();
  const { tier, dailyLeft } = await spendCheck(deps, run, input.step, input.tier, now);
  const model = deps.model(tier);
  if (!model) throw new BadRequest(`no ${tier} model is configured`);
  const priced = deps.priceOf?.(model);
  if (run.maxCostUsd !== undefined && !priced) throw new BadRequest(`model "${model.model}" has no price, so the run's dollar budget cannot be checked: add it to "pricing"`);
  // A thread run's conversation starts with the thread's earlier runs (read from their own items, never copied).
  const conversation = await (deps.history ?? threadConversation(deps.runs))(run);
  const specs = await offeredTools(deps, run, input.step);
  const instructions = instructionsFor(deps);
  const output = outputSpecOf(deps, run);
  const base = { tier, model, priced, conversation, instructions, output, tools: specs };
  const compacted = await compact(deps, run, input.step, base, 'window');
  return send(deps, compacted, input, invocation, utcDay(now), await prepare(deps, compacted, input.step, base, dailyLeft));
}

/**
 * The request with the run's context view applied, its estimate and the budget check (traced and thrown when it does
 * not fit); `dailyLeft`: what is left of the day's spend cap, checked by the same budget check.
 */
async function prepare(deps: LoopDeps, run: RunRecord, step: number, base: CallBase, dailyLeft?: DailyLeft): Promise<PreparedCall> {
  const request: Omit<ModelRequest, 'maxOutputTokens'> = {
    system: base.instructions.text,
    messages: promptMessages(base.conversation, run.contextView),
    tools: base.tools,
    step,
    ...(base.output ? { output: base.output } : {}),
  };
  const estimated = estimateOf(deps, request);
  const budget = await tokenBudget(deps, run, step, { tier: base.tier, priced: base.priced, estimated, pending: pendingUsage(run.contextView, step), dailyLeft });
  return { ...base, run, request, estimated, budget };
}

/** What every model_call event of one call says: which model, how long, the estimate. */
interface CallFacts {
  step: number;
  tier: Tier;
  provider: string;
  model: string;
  latencyMs: number;
  estimatedPromptTokens: number;
  instructions: string;
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
    instructions: call.instructions.hash,
  });
  // The last look before the paid request, after every other check (caps, tools, budget): a run finalized while
  // they ran (cancelled, stopped by an admin) sends nothing (docs/resilience.md).
  const latest = await mustGetRun(deps.runs, run.runId);
  if (isFinal(latest)) return stoppedState(latest, input.state);
  let response: ModelResponse;
  try {
    response = await call.model.complete({ ...call.request, maxOutputTokens: call.budget.maxOutputTokens });
  } catch (err) {
    const e = toAgentError(err);
    if (e instanceof ContextOverflow) return overflowed(deps, run, input, invocation, day, call, e, facts);
    return callFailed(deps, run, input, invocation, e, facts);
  }
  try {
    const repaired = await repairOutput(deps, run, input.step, call, response, facts);
    return await storeAnswer(deps, run, input, day, repaired.call, repaired.response, facts);
  } catch (err) {
    return callFailed(deps, run, input, invocation, toAgentError(err), facts);
  }
}

/**
 * The provider said the prompt does not fit its window: not an outage (no retry of the same request, no fallback
 * that says the model was unavailable). The conversation is compacted harder and the call made once more; a second
 * overflow ends the run UNFINISHED / CONTEXT_WINDOW (a budget: the Surrender exit).
 */
async function overflowed(
  deps: LoopDeps,
  run: RunRecord,
  input: ModelStepInput,
  invocation: Invocation,
  day: string,
  call: PreparedCall,
  e: ContextOverflow,
  facts: () => CallFacts,
): Promise<Answered | LoopState> {
  if (call.overflowRetried) {
    const message = `the conversation does not fit the context window of ${call.model.provider}/${call.model.model} even compacted (${excerpt(e.message, 300)})`;
    return callFailed(deps, run, input, invocation, e, facts, new BudgetExceeded('CONTEXT_WINDOW', message));
  }
  await deps.runs.appendEvent(run.runId, trace.modelCall({ ...facts(), error: { name: e.name, message: excerpt(e.message, 1000), status: e.status ?? null } }));
  const base = {
    tier: call.tier,
    model: call.model,
    priced: call.priced,
    conversation: call.conversation,
    instructions: call.instructions,
    output: call.output,
    tools: call.request.tools,
  };
  const compacted = await compact(deps, call.run, input.step, base, 'overflow');
  return send(deps, run, input, invocation, day, { ...(await prepare(deps, compacted, input.step, base)), overflowRetried: true });
}

/**
 * Structured output: a final answer that does not satisfy the run's schema gets one repair turn (the model is shown
 * its answer and what is wrong), within the budgets; the first answer is traced with why it failed. Returns the
 * answer to store — the repaired one (the first's usage kept on the call), or the first when no repair could be made.
 */
async function repairOutput(
  deps: LoopDeps,
  run: RunRecord,
  step: number,
  call: PreparedCall,
  response: ModelResponse,
  facts: () => CallFacts,
): Promise<{ call: PreparedCall; response: ModelResponse }> {
  if (!call.output || response.toolCalls.length > 0) return { call, response };
  const check = checkOutput(call.output, response.text);
  if (check.ok) return { call, response };
  await deps.runs.appendEvent(
    run.runId,
    trace.modelCall({
      ...facts(),
      usage: response.usage,
      costUsd: toUsd(call.priced ? costMicros(response.usage, call.priced.price) : 0),
      priceSource: call.priced?.source ?? null,
      finishReason: response.finishReason,
      maxOutputTokens: call.budget.maxOutputTokens,
      output: { text: response.text, toolCalls: [] },
      outputInvalid: excerpt(check.problem, 1000),
    }),
  );
  const request = {
    ...call.request,
    messages: [
      ...call.request.messages,
      { role: 'assistant' as const, content: response.text, toolCalls: [] },
      { role: 'user' as const, content: repairPrompt(call.output, check.problem) },
    ],
  };
  const spent = addUsage(pendingUsage(call.run.contextView, step), response.usage);
  const estimated = estimateOf(deps, request);
  const cost =
    run.maxCostUsd !== undefined && call.priced
      ? { usedMicros: (run.costMicros ?? 0) + costMicros(spent, call.priced.price), maxMicros: toMicros(run.maxCostUsd), price: call.priced.price }
      : undefined;
  const budget = checkBudget({
    used: run.tokensIn + run.tokensOut + spent.inputTokens + spent.outputTokens,
    maxTokens: run.maxTokens,
    estimatedPromptTokens: estimated,
    maxOutputTokens: deps.maxOutputTokens(call.tier),
    reserve: Math.floor(run.maxTokens * (deps.reserveRatio ?? 0)),
    cost,
  });
  // No room for a repair: the invalid answer stands (the run ends OUTPUT_INVALID, its answer kept).
  if (!budget.ok) return { call, response };
  const repaired = await call.model.complete({ ...request, maxOutputTokens: budget.maxOutputTokens });
  return {
    call: { ...call, request, estimated, budget, repairedAfter: response.usage },
    response: repaired,
  };
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
  const message: Message = { role: 'assistant', content: response.text, toolCalls: response.toolCalls, ...(response.reasoning ? { reasoning: response.reasoning } : {}) };
  // The step's usage (the run's budgets and spend): this answer's, a first answer's before its repair, and a context
  // summary's made at this step — counted once, with the answer. The call's event carries its own usage only (each
  // of the others is on its own event), so the metrics and the export count every token once.
  const answered = addUsage(response.usage, call.repairedAfter ?? { inputTokens: 0, outputTokens: 0 });
  const usage = addUsage(answered, pendingUsage(call.run.contextView, step));
  const micros = (call.priced ? costMicros(answered, call.priced.price) : 0) + pendingMicros(call.run.contextView, step, call.priced?.price);
  const ownMicros = call.priced ? costMicros(response.usage, call.priced.price) : 0;
  // The call's trace event goes in the message's item, referencing the messages instead of copying them
  // (../trace-refs.ts: the trace readers resolve them).
  const { stored, written } = await deps.runs.putMessage(
    run.runId,
    { step, seq: 0, message, usage, at: new Date().toISOString(), tier: call.tier, model: `${call.model.provider}/${call.model.model}`, costMicros: micros },
    trace.modelCall({
      ...facts(),
      at: answeredAt,
      usage: response.usage,
      ...(call.repairedAfter ? { purpose: 'repair' as const } : {}),
      costUsd: toUsd(ownMicros),
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
  /** Thrown instead of `e` after tracing `e` (a second context overflow ends the run as a budget). */
  thrown: AgentError = e,
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
  throw thrown;
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
async function recordStep(deps: LoopDeps, run: RunRecord, state: LoopState, step: number, stored: StoredMessage, output: OutputSpec | undefined): Promise<LoopState> {
  const allCalls = stored.message.role === 'assistant' ? stored.message.toolCalls : [];
  // A final answer with a schema: valid or not (finalize ends an invalid one UNFINISHED / OUTPUT_INVALID).
  const outputState = output && allCalls.length === 0 ? (checkOutput(output, stored.message.content).ok ? 'valid' : 'invalid') : undefined;
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
    ...(outputState ? { output: outputState } : {}),
    ...(state.segmentEnd !== undefined ? { segmentEnd: state.segmentEnd } : {}),
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
      message: {
        role: 'tool',
        toolCallId: extra.id,
        name: extra.name,
        content: `Not run: at most ${limit} tool calls run per step; ask again in the next step if you still need it.`,
        isError: true,
      },
      at: new Date().toISOString(),
    });
  }
  return allCalls.slice(0, limit);
}
