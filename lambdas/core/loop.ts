import { degradationNotice, excerpt, partialAnswer, surrenderNotice, withNotice } from './answer';
import { type ApprovalPolicy, gateToolCall, needsDecision, pendingApprovalsOf } from './approvals';
import { type Budgets, checkBudget } from './budget';
import { checkpointFormat, storedPrevCallSig } from './checkpoint';
import type { RunUpdates } from './control';
import { BadRequest, BudgetExceeded, budgetReasonOf, causeMessage, RateLimited, RetryAfterTooLong, RunStopped, retryAfterDecision, toAgentError } from './errors';
import type { RunRecord, RunRepository } from './ports';
import { costMicros, type ModelPrice, type PriceSource, toMicros, toUsd } from './pricing';
import { callSignature, idempotencyKeyFor } from './signature';
import { checkDailyCaps, type DailyCaps, hasDailyCaps, type SpendPort, utcDay } from './spend';
import { createRunRecord } from './start-run';
import { refOf } from './trace-refs';
import { type DegradedEntry, type Message, type ModelProvider, type RunStatus, type RunView, TERMINAL_STATUSES, type ToolCall, type ToolContext, type ToolResult, type ToolSpec } from './types';

/**
 * The agent loop's steps as plain functions. The state machine calls them through thin handlers; the payload
 * between states is the small `LoopState` below, while messages and trace events live in the table.
 */

/** The small state carried between states. Never grows with the conversation. */
export interface LoopState {
  runId: string;
  /** Steps completed (the loop counter; the state machine adds 1 before each model call). */
  step: number;
  maxSteps: number;
  maxTokens: number;
  /** `stopped`: the run is already final (e.g. CANCELLED): Route leaves the loop without finalizing again. */
  outcome: 'start' | 'tools' | 'final' | 'stopped';
  toolCalls: { id: string }[];
  toolCount: number;
  /** Signature of this step's tool calls and of the previous step's (the repetition detector compares them). */
  callSig: string;
  prevCallSig: string;
  stopReason?: string;
  /** Set when a pause was requested: Route sends the loop to the Pause state before the tools run. */
  pauseRequested?: boolean;
  /** Set when a tool call of the step waits for a person's decision: Route sends the loop to AwaitApproval. */
  approvalRequired?: boolean;
  [extra: string]: unknown;
}

/** A state machine error as Catch puts it into the state. */
export interface CaughtError {
  Error: string;
  Cause?: string;
}

export type Tier = 'primary' | 'fallback';

/** What the handler knows about its own invocation. */
export interface Invocation {
  /** Milliseconds left before the Lambda times out. */
  remainingMs?: () => number;
}

export interface LoopDeps {
  runs: RunRepository;
  /** The model of a tier (already behind its breaker), or undefined when the tier is not configured. */
  model: (tier: Tier) => ModelProvider | undefined;
  /** The tools the model is offered. */
  toolSpecs: ToolSpec[];
  /**
   * When set, the tools offered for each model call, listed at call time (MCP servers), with the servers that could
   * not be listed: the run goes on without their tools, degraded. Never throws.
   */
  listTools?: () => Promise<{ specs: ToolSpec[]; unavailable: DegradedEntry[] }>;
  /**
   * Runs one tool call: unknown tools and unparsable arguments come back as error results; only transient errors
   * are thrown (lambdas/tools/registry.ts `runTool`).
   */
  runTool: (call: ToolCall, ctx: ToolContext) => Promise<ToolResult>;
  system?: string;
  maxOutputTokens: (tier: Tier) => number;
  /** Estimated input tokens of a request (./tokens.ts; injected so only the model handler bundles the tokenizer). */
  estimatePromptTokens: (request: { system?: string; messages: Message[]; tools: ToolSpec[] }) => number;
  /** Tokens kept back from each run's budget for a closing summary. */
  reserveRatio?: number;
  /** Tool calls run per step; the rest are answered with an error result (bounds the execution history). */
  maxToolCallsPerStep?: number;
  /** Wall clock for latencies. */
  clock?: () => number;
  /** The state machine's retry window: a Retry-After beyond it fails over instead of waiting. */
  maxRetryDelaySeconds?: number;
  sleep?: (ms: number) => Promise<void>;
  log?: (message: string, fields: Record<string, unknown>) => void;
  /** The price of a model (config `pricing`, built-in prices, demo free); undefined when unknown. */
  priceOf?: (model: { provider: string; model: string }) => { price: ModelPrice; source: PriceSource } | undefined;
  /** Daily spend counters and caps (lambdas/core/spend.ts); no daily checks without them. */
  spend?: SpendPort;
  caps?: DailyCaps;
  /** The date for UTC days (spend counters). */
  now?: () => Date;
  /** Tools whose calls wait for a person's decision (lambdas/core/approvals.ts); none when absent. */
  approvals?: ApprovalPolicy;
}

export const SYSTEM_PROMPT =
  'You are a careful assistant. Use the tools when they help; answer concisely once you have what you need.';

// ---------------------------------------------------------------------------------------------------------------
// LoadRun

export interface StartInput {
  runId: string;
  userId?: string;
  input?: string;
  budgets?: Partial<Budgets>;
}

/**
 * Loads the run for a new or resumed execution (creating it when an execution was started without the API). A run
 * is rebuilt from the table alone: a resumed run continues where its checkpoint says — the next model call, the
 * tool calls of its last step that have no result yet, or the final answer it already has.
 */
export async function loadRun(deps: Pick<LoopDeps, 'runs' | 'maxToolCallsPerStep' | 'approvals'>, start: StartInput, defaults: Budgets): Promise<LoopState> {
  let run = await deps.runs.getRun(start.runId);
  if (!run) {
    if (!start.input) throw new BadRequest(`run ${start.runId} does not exist and the execution input has no "input"`);
    // An execution started without the API: the same record and budget policy as POST /runs (a raise is refused).
    run = await createRunRecord(deps.runs, defaults, { runId: start.runId, userId: start.userId ?? 'anonymous', input: start.input, budgets: start.budgets });
  }
  // An execution of a run that is already final (cancelled while the engine was down, a duplicate start) does
  // nothing: no event, no model call; Route sends it straight to Stopped.
  if (isFinal(run)) return stoppedState(run);
  const state = await checkpointState(deps, run);
  const resumed = run.step > 0 || (run.resumes ?? 0) > 0;
  await deps.runs.appendEvent(run.runId, {
    type: resumed ? 'run_resumed' : 'run_started',
    step: run.step,
    input: run.input,
    maxSteps: run.maxSteps,
    maxTokens: run.maxTokens,
    ...(run.maxCostUsd !== undefined ? { maxCostUsd: run.maxCostUsd } : {}),
    ...(resumed ? { resumeAt: state.outcome, pendingToolCalls: state.toolCount, checkpointVersion: checkpointFormat(run), ...(run.resumes ? { attempt: run.resumes } : {}) } : {}),
  });
  return state;
}

/** True when the run is in a status it never leaves (SUCCEEDED, CANCELLED incl. KILLED, FAILED...): no more work. */
export function isFinal(run: Pick<RunRecord, 'status'>): boolean {
  return TERMINAL_STATUSES.includes(run.status);
}

/** The loop state of a run that is already final: Route sends `stopped` to the Stopped state (nothing written). */
function stoppedState(run: RunRecord, state?: LoopState): LoopState {
  return {
    runId: run.runId,
    step: state?.step ?? run.step,
    maxSteps: state?.maxSteps ?? run.maxSteps,
    maxTokens: state?.maxTokens ?? run.maxTokens,
    outcome: 'stopped',
    toolCalls: [],
    toolCount: 0,
    callSig: state?.callSig ?? '',
    prevCallSig: state?.prevCallSig ?? '',
    stopReason: run.stopReason ?? run.status,
  };
}

/** The loop state a run's checkpoint stands for (see loadRun), in any format this version reads (lambdas/core/checkpoint.ts). */
export async function checkpointState(deps: Pick<LoopDeps, 'runs' | 'maxToolCallsPerStep' | 'approvals'>, run: RunRecord): Promise<LoopState> {
  const prevCallSig = storedPrevCallSig(run);
  const base: LoopState = {
    runId: run.runId,
    step: run.step,
    maxSteps: run.maxSteps,
    maxTokens: run.maxTokens,
    outcome: 'start',
    toolCalls: [],
    toolCount: 0,
    callSig: run.lastCallSig ?? '',
    prevCallSig: '',
  };
  if (run.step === 0) return base;
  const messages = (await deps.runs.listMessages(run.runId)).filter((m) => m.step >= run.step - 1);
  const turn = (step: number) => messages.find((m) => m.step === step && m.seq === 0)?.message;
  const last = turn(run.step);
  if (last?.role !== 'assistant') return base;
  if (last.toolCalls.length === 0) return { ...base, outcome: 'final' };
  const calls = last.toolCalls.slice(0, deps.maxToolCallsPerStep ?? Number.POSITIVE_INFINITY);
  const done = new Set(messages.filter((m) => m.step === run.step && m.message.role === 'tool').map((m) => (m.message as { toolCallId: string }).toolCallId));
  if (calls.every((c) => done.has(c.id))) return base;
  const previous = turn(run.step - 1);
  return {
    ...base,
    outcome: 'tools',
    toolCalls: calls.map((c) => ({ id: c.id })),
    toolCount: calls.length,
    callSig: callSignature(last.toolCalls),
    // Format 2 stores it on the run item; format 1 recomputes it from the previous step's message.
    prevCallSig: prevCallSig ?? (previous?.role === 'assistant' ? callSignature(previous.toolCalls) : ''),
    approvalRequired: needsDecision(deps.approvals, run, run.step, calls.filter((c) => !done.has(c.id))),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Pause

export interface PauseInput {
  state: LoopState;
  taskToken: string;
}

/** The Pause state: stores the task token on the run and marks it PAUSED; the execution waits for the token. */
export async function pauseRun(deps: { runs: RunRepository & RunUpdates }, input: PauseInput): Promise<{ paused: boolean }> {
  const updated = await deps.runs.updateRun(input.state.runId, { status: 'PAUSED', taskToken: input.taskToken, pauseRequested: false }, { statusIn: ['RUNNING'] });
  if (!updated) {
    // Not RUNNING any more: a final run (cancelled meanwhile) leaves the loop at once (the Pause state catches
    // RunStopped into Stopped) instead of waiting for a token nobody will send.
    const run = await mustGetRun(deps.runs, input.state.runId);
    if (isFinal(run)) throw new RunStopped(`run ${run.runId} is ${run.status}${run.stopReason ? ` (${run.stopReason})` : ''}; it does no more work`);
    return { paused: false };
  }
  await deps.runs.appendEvent(input.state.runId, { type: 'paused', step: input.state.step, pendingToolCalls: input.state.toolCount });
  return { paused: true };
}

// ---------------------------------------------------------------------------------------------------------------
// CallModel / CallFallbackModel

export interface ModelStepInput {
  state: LoopState;
  /** The step being taken: the state machine's loop counter (state.step + 1). */
  step: number;
  tier: Tier;
  /** Set on the fallback tier: why the primary failed. */
  error?: CaughtError;
}

/**
 * One model call. Idempotent per (run, step): a retry after a lost response reuses the stored assistant message
 * and counts its tokens once. Throws BudgetExceeded when the call cannot fit the token budget.
 */
export async function modelStep(deps: LoopDeps, input: ModelStepInput, invocation: Invocation = {}): Promise<LoopState> {
  const { state, step, tier } = input;
  const clock = deps.clock ?? Date.now;
  const runId = state.runId;
  // Every step re-reads the run first: a final run (CANCELLED, KILLED...) makes no model request.
  let run = await mustGetRun(deps.runs, runId);
  if (isFinal(run)) return stoppedState(run, state);

  if (tier === 'fallback' && input.error) {
    const entry = { dependency: 'model:primary', reason: input.error.Error, fallback: 'model:fallback' };
    await deps.runs.addDegraded(runId, entry);
    await deps.runs.appendEvent(runId, { type: 'fallback', step, ...entry, cause: excerpt(causeMessage(input.error.Cause), 500) });
    deps.log?.('falling back', { runId, step, ...entry });
  }

  let stored = await deps.runs.getMessage(runId, step, 0);
  if (!stored) {
    const now = deps.now?.() ?? new Date();
    const day = utcDay(now);
    const callTier = await spendCheck(deps, run, step, tier, now);
    const model = deps.model(callTier);
    if (!model) throw new BadRequest(`no ${callTier} model is configured`);
    const priced = deps.priceOf?.(model);
    if (run.maxCostUsd !== undefined && !priced) throw new BadRequest(`model "${model.model}" has no price, so the run's dollar budget cannot be checked: add it to "pricing"`);
    const conversation = await deps.runs.listMessages(runId);
    const history = conversation.map((m) => m.message);
    const tools = deps.listTools ? await deps.listTools() : { specs: deps.toolSpecs, unavailable: [] };
    for (const entry of tools.unavailable) {
      if ((run.degraded ?? []).some((d) => d.dependency === entry.dependency && d.fallback === entry.fallback)) continue;
      await deps.runs.addDegraded(runId, entry);
      await deps.runs.appendEvent(runId, { type: 'fallback', step, ...entry, listing: true });
      deps.log?.('tools unavailable', { runId, step, ...entry });
    }
    const request = { system: deps.system ?? SYSTEM_PROMPT, messages: history, tools: tools.specs };
    const estimated = deps.estimatePromptTokens(request);
    const cost = run.maxCostUsd !== undefined && priced ? { usedMicros: run.costMicros ?? 0, maxMicros: toMicros(run.maxCostUsd), price: priced.price } : undefined;
    const decision = checkBudget({
      used: run.tokensIn + run.tokensOut,
      maxTokens: run.maxTokens,
      estimatedPromptTokens: estimated,
      maxOutputTokens: deps.maxOutputTokens(callTier),
      reserve: Math.floor(run.maxTokens * (deps.reserveRatio ?? 0)),
      cost,
    });
    if (!decision.ok) {
      await deps.runs.appendEvent(runId, {
        type: 'budget',
        step,
        reason: decision.reason,
        message: decision.message,
        estimatedPromptTokens: estimated,
        used: run.tokensIn + run.tokensOut,
        maxTokens: run.maxTokens,
        ...(cost ? { costUsd: toUsd(cost.usedMicros), maxCostUsd: run.maxCostUsd } : {}),
      });
      throw new BudgetExceeded(decision.reason, decision.message);
    }
    const started = clock();
    const callEvent = () => ({ type: 'model_call', step, tier: callTier, provider: model.provider, model: model.model, latencyMs: clock() - started, estimatedPromptTokens: estimated });
    try {
      const response = await model.complete({ ...request, maxOutputTokens: decision.maxOutputTokens });
      // Traced at the time the answer arrived: a cancel that lands while it is being stored comes after it.
      const answeredAt = new Date().toISOString();
      // The call was in flight: if the run was finalized meanwhile (cancelled), the answer is not part of the
      // run. The call is traced as discarded (its tokens were spent) and the loop leaves at once.
      run = await mustGetRun(deps.runs, runId);
      if (isFinal(run)) {
        await deps.runs.appendEvent(runId, { ...callEvent(), usage: response.usage, finishReason: response.finishReason, discarded: run.status });
        return stoppedState(run, state);
      }
      const message: Message = { role: 'assistant', content: response.text, toolCalls: response.toolCalls };
      const micros = priced ? costMicros(response.usage, priced.price) : 0;
      let written: boolean;
      // The call's trace event goes in the message's item, referencing the messages instead of copying them
      // (lambdas/core/trace-refs.ts: the trace readers resolve them).
      ({ stored, written } = await deps.runs.putMessage(
        runId,
        { step, seq: 0, message, usage: response.usage, at: new Date().toISOString(), tier: callTier, model: `${model.provider}/${model.model}`, costMicros: micros },
        {
          ...callEvent(),
          at: answeredAt,
          usage: response.usage,
          costUsd: toUsd(micros),
          priceSource: priced?.source ?? null,
          maxOutputTokens: decision.maxOutputTokens,
          finishReason: response.finishReason,
          input: { messages: history.length, lastRef: refOf(conversation[conversation.length - 1]), tools: tools.specs.map((t) => t.name) },
          outputRef: { step, seq: 0 },
        },
      ));
      // The day's counters: once per stored call (a retried step whose message is already stored adds nothing).
      if (written && micros > 0 && deps.spend) await deps.spend.add(run.userId, day, micros);
    } catch (err) {
      const e = toAgentError(err);
      const now = await deps.runs.getRun(runId);
      if (now && isFinal(now)) {
        // Failed while the run was being cancelled: no retry, no fallback, nothing more to do.
        await deps.runs.appendEvent(runId, { ...callEvent(), error: { name: e.name, message: excerpt(e.message, 1000), status: e.status ?? null }, discarded: now.status });
        return stoppedState(now, state);
      }
      await deps.runs.appendEvent(runId, { ...callEvent(), error: { name: e.name, message: excerpt(e.message, 1000), status: e.status ?? null } });
      deps.log?.('model call failed', { runId, step, tier, error: e.name, message: e.message });
      if (e instanceof RateLimited && e.retryAfterSeconds !== undefined) {
        const decision = retryAfterDecision({
          retryAfterSeconds: e.retryAfterSeconds,
          maxDelaySeconds: deps.maxRetryDelaySeconds ?? 20,
          remainingMs: invocation.remainingMs?.() ?? Number.POSITIVE_INFINITY,
        });
        if (decision.action === 'failover') throw new RetryAfterTooLong(`${e.message}; ${decision.reason}`, { status: e.status, cause: e });
        // No retry sooner than Retry-After: wait here, then let the state machine's Retry (backoff on top) run.
        await (deps.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms))))(decision.waitMs);
      }
      throw e;
    }
  }

  const message = stored.message;
  const allCalls = message.role === 'assistant' ? message.toolCalls : [];
  const limit = deps.maxToolCallsPerStep ?? Number.POSITIVE_INFINITY;
  const toolCalls = allCalls.slice(0, limit);
  for (const [i, extra] of allCalls.slice(limit).entries()) {
    await deps.runs.putMessage(runId, {
      step,
      seq: limit + i + 1,
      message: { role: 'tool', toolCallId: extra.id, name: extra.name, content: `Not run: at most ${limit} tool calls run per step; ask again in the next step if you still need it.`, isError: true },
      at: new Date().toISOString(),
    });
  }
  const callSig = callSignature(allCalls);
  await deps.runs.recordModelStep(runId, step, stored.usage ?? { inputTokens: 0, outputTokens: 0 }, callSig, stored.costMicros ?? 0);
  return {
    runId,
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
 * The daily caps before a model call: past a cap the run surrenders (SPEND_LIMIT); past `fallbackAt` of a cap the
 * fallback model answers instead of the primary, and the run records that it degraded. Returns the tier to call.
 */
async function spendCheck(deps: LoopDeps, run: RunRecord, step: number, tier: Tier, now: Date): Promise<Tier> {
  if (!deps.spend || !deps.caps || !hasDailyCaps(deps.caps)) return tier;
  const spent = await deps.spend.today(run.userId, utcDay(now));
  const cap = checkDailyCaps(spent, deps.caps, now);
  if (!cap.ok) {
    await deps.runs.appendEvent(run.runId, { type: 'budget', step, reason: 'SPEND_LIMIT', scope: cap.scope, message: cap.message, userSpendUsd: toUsd(spent.userMicros), totalSpendUsd: toUsd(spent.totalMicros) });
    throw new BudgetExceeded('SPEND_LIMIT', cap.message);
  }
  if (cap.degrade && tier === 'primary' && deps.model('fallback')) {
    const entry = { dependency: 'model:primary', reason: 'SPEND_FALLBACK', fallback: 'model:fallback' };
    await deps.runs.addDegraded(run.runId, entry);
    await deps.runs.appendEvent(run.runId, { type: 'fallback', step, ...entry, cause: `daily spend past ${Math.round((deps.caps.fallbackAt ?? 0) * 100)}% of its cap` });
    return 'fallback';
  }
  return tier;
}

// ---------------------------------------------------------------------------------------------------------------
// CallTool

export interface ToolStepInput {
  runId: string;
  step: number;
  toolCallId: string;
  /** Set by the Catch path: the tool kept failing, so its error becomes its result. */
  failure?: CaughtError;
}

/**
 * Runs one tool call and checkpoints its result as a message. Idempotent per (run, step, call): a call whose
 * result is stored is not run again. Transient failures are thrown (the state machine retries them); every
 * other failure becomes the tool's result, so the model sees it and the run goes on.
 */
export async function toolStep(
  deps: Pick<LoopDeps, 'runs' | 'runTool' | 'clock' | 'log' | 'approvals'>,
  input: ToolStepInput,
): Promise<{ toolCallId: string; isError: boolean; stopped?: boolean }> {
  const { runId, step, toolCallId } = input;
  const clock = deps.clock ?? Date.now;
  // A final run (CANCELLED, KILLED...) makes no tool request; the next CallModel sees it too and leaves the loop.
  const run = await mustGetRun(deps.runs, runId);
  if (isFinal(run)) return { toolCallId, isError: false, stopped: true };
  const assistant = await deps.runs.getMessage(runId, step, 0);
  if (assistant?.message.role !== 'assistant') throw new BadRequest(`run ${runId} has no model turn at step ${step}`);
  const index = assistant.message.toolCalls.findIndex((c) => c.id === toolCallId);
  const call = assistant.message.toolCalls[index];
  if (!call) throw new BadRequest(`run ${runId} step ${step} has no tool call ${toolCallId}`);
  const seq = index + 1;
  const done = await deps.runs.getMessage(runId, step, seq);
  if (done && done.message.role === 'tool') return { toolCallId, isError: Boolean(done.message.isError) };

  const idempotencyKey = idempotencyKeyFor(runId, step, toolCallId);
  const started = clock();
  let result: ToolResult;
  // An approval-required call runs only with an "approve" on record (lambdas/core/approvals.ts).
  const refused = deps.approvals?.requires(call.name) ? gateToolCall(await deps.runs.getRun(runId), step, call) : undefined;
  if (refused) {
    result = refused;
  } else if (input.failure) {
    result = { content: `The tool failed after retries (${input.failure.Error}): ${excerpt(causeMessage(input.failure.Cause), 500)}`, isError: true };
  } else {
    // Read again right before the request: a cancel that landed while this step read its messages stops it here.
    if (isFinal(await mustGetRun(deps.runs, runId))) return { toolCallId, isError: false, stopped: true };
    try {
      result = await deps.runTool(call, { runId, step, toolCallId, idempotencyKey });
    } catch (err) {
      const e = toAgentError(err);
      await deps.runs.appendEvent(runId, { type: 'tool_call', step, toolCallId, name: call.name, arguments: call.arguments, idempotencyKey, latencyMs: clock() - started, error: { name: e.name, message: excerpt(e.message, 1000) } });
      deps.log?.('tool call failed', { runId, step, tool: call.name, error: e.name });
      throw e;
    }
  }
  const resultAt = new Date().toISOString();
  const after = await mustGetRun(deps.runs, runId);
  if (isFinal(after)) {
    // The call was in flight when the run was finalized: traced as discarded, its result not checkpointed.
    await deps.runs.appendEvent(runId, { type: 'tool_call', step, toolCallId, name: call.name, idempotencyKey, latencyMs: clock() - started, isError: Boolean(result.isError), discarded: after.status });
    return { toolCallId, isError: Boolean(result.isError), stopped: true };
  }
  if (result.degraded) {
    await deps.runs.addDegraded(runId, result.degraded);
    await deps.runs.appendEvent(runId, { type: 'fallback', step, ...result.degraded });
  }
  // The result is written once, in its message; the trace event (in the same item) references it.
  await deps.runs.putMessage(
    runId,
    { step, seq, message: { role: 'tool', toolCallId, name: call.name, content: result.content, ...(result.isError ? { isError: true } : {}) }, at: new Date().toISOString() },
    {
      type: 'tool_call',
      at: resultAt,
      step,
      toolCallId,
      name: call.name,
      arguments: call.arguments,
      idempotencyKey,
      latencyMs: clock() - started,
      resultRef: { step, seq },
      isError: Boolean(result.isError),
      ...(result.source ? { source: result.source } : {}),
      ...(input.failure ? { failure: input.failure.Error } : {}),
    },
  );
  return { toolCallId, isError: Boolean(result.isError) };
}

// ---------------------------------------------------------------------------------------------------------------
// Finish / Surrender / Degrade / Refused

export type Outcome = 'FINISH' | 'SURRENDER' | 'DEGRADE' | 'REFUSED';

export interface FinalizeInput {
  state: LoopState & { error?: CaughtError };
  outcome: Outcome;
}

/**
 * What Finalize returns (the execution's output): the run's id and final status, never its answer. A state's
 * output is capped at 256 KB and the answer may be longer; readers take the run from the table.
 */
export interface FinalizeOutput {
  runId: string;
  status: RunStatus;
  stopReason: string | null;
}

const outputOf = (run: RunRecord): FinalizeOutput => ({ runId: run.runId, status: run.status, stopReason: run.stopReason ?? null });

/** The one exit of every run: writes the final status and the answer the user sees, and a trace event. */
export async function finalize(deps: Pick<LoopDeps, 'runs' | 'log'>, input: FinalizeInput): Promise<FinalizeOutput> {
  const { state, outcome } = input;
  const run = await mustGetRun(deps.runs, state.runId);
  // Never over a final status (a cancel that landed first): nothing written, no second run_finished.
  if (isFinal(run)) return outputOf(run);
  const messages = (await deps.runs.listMessages(state.runId)).map((m) => m.message);
  let status: RunStatus;
  let stopReason: string | null = null;
  let answer: string;
  const degraded = [...(run.degraded ?? [])];
  switch (outcome) {
    case 'FINISH': {
      status = degraded.length ? 'DEGRADED' : 'SUCCEEDED';
      answer = withNotice(degradationNotice(degraded), partialAnswer(messages));
      break;
    }
    case 'SURRENDER': {
      status = 'UNFINISHED';
      // A budget error names its reason (token, cost, daily spend); the Pass before Surrender sets the others.
      stopReason = budgetReasonOf(state.error) ?? state.stopReason ?? 'STEP_BUDGET';
      answer = withNotice(surrenderNotice(stopReason, run.step), withNotice(degradationNotice(degraded), partialAnswer(messages)));
      break;
    }
    case 'DEGRADE': {
      status = 'DEGRADED';
      stopReason = 'MODELS_UNAVAILABLE';
      const entry = { dependency: degraded.some((d) => d.fallback === 'model:fallback') ? 'model:fallback' : 'model:primary', reason: state.error?.Error ?? 'unknown', fallback: 'partial-answer' };
      await deps.runs.addDegraded(state.runId, entry);
      degraded.push(entry);
      answer = withNotice(degradationNotice(degraded), partialAnswer(messages));
      break;
    }
    case 'REFUSED': {
      status = 'SUCCEEDED';
      stopReason = 'MODEL_REFUSAL';
      answer = 'The model declined to answer this request (content policy).';
      break;
    }
  }
  const final = await deps.runs.finalizeRun(state.runId, { status, answer, stopReason });
  // finalizeRun only moves a RUNNING or PAUSED run: another status means someone else finalized it first.
  if (final.status !== status || final.stopReason !== stopReason) return outputOf(final);
  if (outcome === 'SURRENDER') await deps.runs.appendEvent(state.runId, { type: 'surrender', step: run.step, stopReason: final.stopReason });
  await deps.runs.appendEvent(state.runId, {
    type: 'run_finished',
    step: run.step,
    status: final.status,
    stopReason: final.stopReason,
    ...(state.error ? { error: state.error } : {}),
    usage: { inputTokens: final.tokensIn, outputTokens: final.tokensOut, costUsd: toUsd(final.costMicros ?? 0) },
  });
  deps.log?.('run finished', { runId: state.runId, status: final.status, stopReason: final.stopReason, steps: final.step });
  return outputOf(final);
}

function toView(run: RunRecord): RunView {
  return {
    runId: run.runId,
    status: run.status,
    answer: run.answer ?? null,
    stopReason: run.stopReason ?? null,
    steps: run.step,
    usage: { inputTokens: run.tokensIn, outputTokens: run.tokensOut, costUsd: toUsd(run.costMicros ?? 0) },
    degraded: run.degraded ?? [],
    pendingApprovals: pendingApprovalsOf(run),
    createdAt: run.createdAt,
    updatedAt: run.updatedAt,
  };
}

export { toView as runView };

async function mustGetRun(runs: RunRepository, runId: string): Promise<RunRecord> {
  const run = await runs.getRun(runId);
  if (!run) throw new BadRequest(`run ${runId} does not exist`);
  return run;
}
