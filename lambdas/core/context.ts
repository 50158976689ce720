import type { StoredMessage } from './ports';
import type { Message, ToolSpec, Usage } from './types';

/**
 * The context window (docs/agent.md "Context"): before every model call the prompt (instructions, the conversation,
 * the tools) plus the output reserve must fit the model's window. When it would not, the conversation is compacted:
 * 1. older tool results are elided: their content is replaced by a marker that says what was left out (the full
 *    text stays in its message item and in the trace) — the user's question, the instructions and the latest
 *    step's results are kept;
 * 2. when that is not enough, the oldest steps are summarized by the model in a separate call (its tokens count in
 *    the run's budgets) and replaced by the summary.
 * A compaction is a {@link ContextView} stored on the run item before the call (a checkpoint: a resume reads it and
 * does not redo it; a replay reproduces the same prompt) and a `context_compacted` trace event. The view only grows:
 * it never brings back what it left out.
 *
 * The prompt builder reads the conversation from a history source (the run's own messages by default; a thread
 * prepends the messages of its earlier runs) and applies the view to it: nothing is rewritten in the table.
 */

/** What the prompt leaves out of the stored conversation. Monotonic: each compaction extends it. */
export interface ContextView {
  /** Tool results of steps up to this one (inclusive) are elided with a marker. */
  elidedThroughStep: number;
  /** Steps 1..throughStep (assistant turns and their tool results) are replaced by `text`. */
  summary?: ContextSummary;
}

export interface ContextSummary {
  throughStep: number;
  text: string;
  /** The step whose model call made the summary (its usage is added to that step's usage, once). */
  atStep: number;
  usage: Usage;
  /** What `usage` cost at the prices of the models that made it, in whole micro-dollars (absent: unpriced). */
  costMicros?: number;
}

/** Share of the window the prompt may fill (token estimates differ from the providers' own counts). */
export const WINDOW_FILL = 0.9;

/**
 * A compaction makes room for several more steps, not just the next one: it goes down to this share of the limit, so
 * a long run compacts every few steps (fewer writes, and a prompt prefix that stays the same for longer).
 */
export const COMPACT_TO = 0.75;

/** Output tokens a summary may take. */
export const SUMMARY_MAX_TOKENS = 1024;

/** The marker that stands for an elided tool result. */
export function elisionMarker(m: { name: string; content: string; step: number }): string {
  return `[${m.name} result from step ${m.step} left out to fit the context window (${m.content.length} characters; the full text is kept in the run's trace)]`;
}

/** The messages the model is sent: the conversation with the view applied. */
export function promptMessages(conversation: StoredMessage[], view: ContextView | undefined): Message[] {
  const out: Message[] = [];
  const through = view?.summary?.throughStep ?? 0;
  let summarized = false;
  for (const m of conversation) {
    if (view?.summary && m.step >= 1 && m.step <= through) {
      if (!summarized) {
        out.push({
          role: 'user',
          content: `[Summary of steps 1-${through}, written to fit the context window; the full conversation is kept in the run's trace]\n${view.summary.text}`,
        });
        summarized = true;
      }
      continue;
    }
    if (m.message.role === 'tool' && view && m.step <= view.elidedThroughStep) {
      out.push({ ...m.message, content: elisionMarker({ name: m.message.name, content: m.message.content, step: m.step }) });
      continue;
    }
    out.push(m.message);
  }
  return out;
}

/** What a compaction decision needs. */
export interface ContextInput {
  conversation: StoredMessage[];
  view: ContextView | undefined;
  system: string;
  tools: ToolSpec[];
  estimate: (request: { system?: string; messages: Message[]; tools: ToolSpec[] }) => number;
  /** The model's window (input + output). */
  windowTokens: number;
  /** The output the call reserves (its maxOutputTokens). */
  outputTokens: number;
  /** After the provider said the prompt did not fit: elide every result but the latest step's, then summarize. */
  harder?: boolean;
}

/** What the planner decided. `summarizeThrough`: the caller makes the summary of steps 1..n, then applies it. */
export interface ContextPlan {
  view: ContextView | undefined;
  /** Prompt tokens (estimated) with the old view and with the new one. */
  before: number;
  after: number;
  /** The prompt may fill this many tokens. */
  limit: number;
  changed: boolean;
  summarizeThrough?: number;
}

const estimateWith = (input: ContextInput, view: ContextView | undefined) =>
  input.estimate({ system: input.system, messages: promptMessages(input.conversation, view), tools: input.tools });

/**
 * Decides the compaction before a call (see the top of this file): nothing while the prompt fits the limit; else
 * down to COMPACT_TO of it. The summary itself is the caller's model call:
 * the plan says through which step to summarize (the summary is assumed to take at most SUMMARY_MAX_TOKENS); the
 * caller then calls {@link withSummary}. Never elides or summarizes the latest step, nor the user's question (step 0).
 */
export function planContext(input: ContextInput): ContextPlan {
  const limit = Math.max(0, Math.floor(input.windowTokens * WINDOW_FILL) - input.outputTokens);
  const before = estimateWith(input, input.view);
  const fits = (v: ContextView | undefined) => estimateWith(input, v) <= Math.floor(limit * COMPACT_TO);
  if (before <= limit && !input.harder) return { view: input.view, before, after: before, limit, changed: false };
  const lastStep = Math.max(0, ...input.conversation.map((m) => m.step));
  const from = input.view?.elidedThroughStep ?? 0;
  let view: ContextView = { elidedThroughStep: from, ...(input.view?.summary ? { summary: input.view.summary } : {}) };
  // 1. Elide tool results oldest first, never the latest step's.
  for (let k = from + 1; k < lastStep; k++) {
    view = { ...view, elidedThroughStep: k };
    if (!input.harder && fits(view)) break;
  }
  const elided = estimateWith(input, view);
  const changed = view.elidedThroughStep !== from;
  // Eliding alone is enough when it fits the limit (if not quite the target: a summary is a model call).
  if (elided <= limit && !input.harder) return { view, before, after: elided, limit, changed };
  // 2. Summarize the oldest steps: the fewest that make room for the summary, never the latest step.
  const summarizedFrom = view.summary?.throughStep ?? 0;
  const placeholder = (n: number): ContextView => ({
    ...view,
    summary: { throughStep: n, text: 'x '.repeat(SUMMARY_MAX_TOKENS), atStep: 0, usage: { inputTokens: 0, outputTokens: 0 } },
  });
  let through: number | undefined;
  for (let n = summarizedFrom + 1; n < lastStep; n++) {
    through = n;
    if (!input.harder && fits(placeholder(n))) break;
  }
  if (through === undefined) return { view, before, after: elided, limit, changed };
  return { view, before, after: elided, limit, changed, summarizeThrough: through };
}

/** The view with a summary of steps 1..throughStep. */
export function withSummary(view: ContextView, summary: ContextSummary): ContextView {
  return { ...view, elidedThroughStep: Math.max(view.elidedThroughStep, summary.throughStep), summary };
}

/** Instructions of the summary call. */
export const SUMMARY_INSTRUCTIONS =
  'Before you go on, compress your working notes: summarize the steps below for yourself — what was asked, what each tool call found (facts, numbers, names, ids), what was decided, and what is still open. Be factual and brief; no preamble; call no tool.';

/**
 * The transcript the summary call reads: the earlier summary, then the steps to summarize (with the view's elisions
 * lifted: the summary is written from the full results), clipped to `maxChars` so the summary call fits the window.
 */
export function summaryTranscript(conversation: StoredMessage[], view: ContextView, throughStep: number, maxChars: number): string {
  const parts: string[] = [];
  if (view.summary) parts.push(`Earlier summary (steps 1-${view.summary.throughStep}):\n${view.summary.text}`);
  const from = (view.summary?.throughStep ?? 0) + 1;
  const steps = conversation.filter((m) => m.step >= from && m.step <= throughStep);
  const share = Math.max(200, Math.floor(maxChars / Math.max(1, steps.length)));
  const clip = (t: string) => (t.length > share ? `${t.slice(0, share)}… [${t.length - share} more characters]` : t);
  for (const m of steps) {
    const msg = m.message;
    if (msg.role === 'assistant') {
      const calls = msg.toolCalls.map((c) => `${c.name}(${JSON.stringify(c.arguments ?? {})})`).join(', ');
      parts.push(`Step ${m.step} assistant: ${clip(msg.content)}${calls ? ` — called ${clip(calls)}` : ''}`);
    } else if (msg.role === 'tool') parts.push(`Step ${m.step} ${msg.name} result${msg.isError ? ' (error)' : ''}: ${clip(msg.content)}`);
    else parts.push(`Step ${m.step} user: ${clip(msg.content)}`);
  }
  const text = parts.join('\n\n');
  return text.length > maxChars ? `${text.slice(0, maxChars)}… [clipped]` : text;
}
