import { checkBudget, MIN_OUTPUT_TOKENS } from '../budget';
import { type ContextSummary, type ContextView, planContext, promptMessages, SUMMARY_INSTRUCTIONS, SUMMARY_MAX_TOKENS, summaryTranscript, withSummary } from '../context';
import type { Instructions } from '../instructions';
import type { OutputSpec } from '../output';
import type { RunRecord, StoredMessage } from '../ports';
import { costMicros, type ModelPrice, type PriceSource, toMicros, toUsd } from '../pricing';
import { type Tier, trace } from '../trace';
import type { Message, ModelProvider, ModelRequest, ToolSpec, Usage } from '../types';
import type { LoopDeps } from './state';

/**
 * Context compaction of the model step (../context.ts decides; this runs it): the prompt estimate, the elisions and
 * the summary call, stored on the run as its context view before the call they make room for.
 */

/** What a call is made of before its prompt is built (the conversation, the tools, the instructions, the schema). */
export interface CallBase {
  tier: Tier;
  model: ModelProvider;
  priced: { price: ModelPrice; source: PriceSource } | undefined;
  conversation: StoredMessage[];
  instructions: Instructions;
  output: OutputSpec | undefined;
  tools: ToolSpec[];
}

/** The prompt estimate, the output schema counted like a tool's (it travels as one, or as response_format). */
export function estimateOf(deps: LoopDeps, request: Omit<ModelRequest, 'maxOutputTokens'>): number {
  const tools = request.output ? [...request.tools, { name: request.output.name, description: '', parameters: request.output.schema }] : request.tools;
  return deps.estimatePromptTokens({ system: request.system, messages: request.messages, tools });
}

/** Tokens a summary made at this step used: they count in the step's usage (once, with its answer). */
export function pendingUsage(view: ContextView | undefined, step: number): Usage {
  return view?.summary && view.summary.atStep === step ? view.summary.usage : { inputTokens: 0, outputTokens: 0 };
}

/** What the summary made at this step cost (its own figure, priced when it was made; else at `price`), in micro-dollars. */
export function pendingMicros(view: ContextView | undefined, step: number, price: ModelPrice | undefined): number {
  if (!view?.summary || view.summary.atStep !== step) return 0;
  return view.summary.costMicros ?? (price ? costMicros(view.summary.usage, price) : 0);
}

export const addUsage = (a: Usage, b: Usage): Usage => ({ inputTokens: a.inputTokens + b.inputTokens, outputTokens: a.outputTokens + b.outputTokens });

/**
 * Compaction before a call (../context.ts): when the prompt and the output reserve would not fit the tier's window
 * (or, `overflow`, the provider said it did not), older tool results are elided and, if need be, the oldest steps
 * summarized by the model. The new view is stored on the run before the call (a checkpoint) and traced
 * (`context_compacted`). Returns the run with its view.
 */
export async function compact(deps: LoopDeps, run: RunRecord, step: number, base: CallBase, reason: 'window' | 'overflow'): Promise<RunRecord> {
  const windowTokens = deps.contextWindow?.(base.tier);
  if (windowTokens === undefined) return run;
  const estimate = (r: { system?: string; messages: Message[]; tools: ToolSpec[] }) => estimateOf(deps, { ...r, ...(base.output ? { output: base.output } : {}) });
  const plan = planContext({
    conversation: base.conversation,
    view: run.contextView,
    system: base.instructions.text,
    tools: base.tools,
    estimate,
    windowTokens,
    outputTokens: deps.maxOutputTokens(base.tier),
    harder: reason === 'overflow',
  });
  let view = plan.view;
  let summary: ContextSummary | undefined;
  if (plan.summarizeThrough !== undefined && view) {
    summary = await summarize(deps, run, step, base, view, plan.summarizeThrough, windowTokens);
    if (summary) view = withSummary(view, summary);
  }
  if (!view || (!plan.changed && !summary)) return run;
  await deps.runs.saveContextView(run.runId, view);
  const after = estimate({ system: base.instructions.text, messages: promptMessages(base.conversation, view), tools: base.tools });
  await deps.runs.appendEvent(
    run.runId,
    trace.contextCompacted({
      step,
      tier: base.tier,
      model: `${base.model.provider}/${base.model.model}`,
      reason,
      windowTokens,
      tokensBefore: plan.before,
      tokensAfter: after,
      elidedThroughStep: view.elidedThroughStep,
      ...(view.summary ? { summarizedThroughStep: view.summary.throughStep } : {}),
      ...(summary ? { summary: { text: summary.text, usage: summary.usage, costUsd: toUsd(base.priced ? costMicros(summary.usage, base.priced.price) : 0) } } : {}),
    }),
  );
  deps.log?.('context compacted', { runId: run.runId, step, reason, before: plan.before, after, elidedThroughStep: view.elidedThroughStep });
  return { ...run, contextView: view };
}

/**
 * The summary of steps 1..throughStep by the tier's model, in a separate call within the run's budgets (its usage is
 * added to the step's). Undefined when the budget has no room for it or the call fails: the elisions still apply.
 */
export async function summarize(
  deps: LoopDeps,
  run: RunRecord,
  step: number,
  base: CallBase,
  view: ContextView,
  throughStep: number,
  windowTokens: number,
): Promise<ContextSummary | undefined> {
  // The transcript fits the window with room for the summary (about 3 characters a token, erring low).
  const instructionTokens = deps.estimatePromptTokens({ system: base.instructions.text, messages: [], tools: [] });
  const maxChars = Math.max(2000, (Math.floor(windowTokens * 0.8) - SUMMARY_MAX_TOKENS - 200 - instructionTokens) * 3);
  // The agent's own instructions stay the system prompt (every request carries them; they say what matters); the
  // task of summarizing is the user turn.
  const transcript = summaryTranscript(base.conversation, view, throughStep, maxChars);
  const request = { system: base.instructions.text, messages: [{ role: 'user' as const, content: `${SUMMARY_INSTRUCTIONS}\n\n${transcript}` }], tools: [] };
  const earlier = pendingUsage(view, step);
  // The summary is made only when it and the call it makes room for both fit the run's token and dollar budgets
  // (the call estimated with a summary of the largest size): a summary is never spent on a step that then cannot
  // be taken.
  const placeholder: ContextView = { ...view, summary: { throughStep, text: 'x '.repeat(SUMMARY_MAX_TOKENS), atStep: step, usage: earlier } };
  const next = estimateOf(deps, {
    system: base.instructions.text,
    messages: promptMessages(base.conversation, placeholder),
    tools: base.tools,
    ...(base.output ? { output: base.output } : {}),
  });
  const ahead = { inputTokens: earlier.inputTokens + next, outputTokens: earlier.outputTokens + MIN_OUTPUT_TOKENS };
  const budget = checkBudget({
    used: run.tokensIn + run.tokensOut + ahead.inputTokens + ahead.outputTokens,
    maxTokens: run.maxTokens,
    estimatedPromptTokens: deps.estimatePromptTokens(request),
    maxOutputTokens: SUMMARY_MAX_TOKENS,
    reserve: Math.floor(run.maxTokens * (deps.reserveRatio ?? 0)),
    ...(run.maxCostUsd !== undefined && base.priced
      ? { cost: { usedMicros: (run.costMicros ?? 0) + costMicros(ahead, base.priced.price), maxMicros: toMicros(run.maxCostUsd), price: base.priced.price } }
      : {}),
  });
  if (!budget.ok) return undefined;
  try {
    const response = await base.model.complete({ ...request, maxOutputTokens: budget.maxOutputTokens, step, purpose: 'summary' });
    if (!response.text.trim()) return undefined;
    const micros = pendingMicros(view, step, undefined) + (base.priced ? costMicros(response.usage, base.priced.price) : 0);
    return { throughStep, text: response.text.trim(), atStep: step, usage: addUsage(earlier, response.usage), costMicros: micros };
  } catch (err) {
    deps.log?.('context summary failed', { runId: run.runId, step, error: (err as Error).name, message: (err as Error).message });
    return undefined;
  }
}
