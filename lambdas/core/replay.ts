import { errorFromName } from './errors';
import type { StoredMessage } from './ports';
import { canonicalJson } from './signature';
import { earlierTurns, turnOf } from './threads';
import { assertNever, type ContextCompactedEvent, isLifeEvent, type ModelCallEvent, type Tier, type ToolCallEvent } from './trace';
import type { DegradedEntry, ModelProvider, ModelRequest, ModelResponse, RunStatus, RunView, StopReason, ToolCall, ToolContext, ToolResult, TraceEvent } from './types';

/**
 * Replay: a recorded run (its view and its trace) serves the model's and the tools' outputs — failures included —
 * to a fresh execution of the current definition; the new path is compared with the recorded one.
 */
export interface RecordedRun {
  run: RunView & { maxSteps?: number; maxTokens?: number };
  events: TraceEvent[];
  /**
   * A thread run's earlier runs, oldest first, as recorded (docs/threads.md "History"): the conversation its model
   * calls were sent before its own messages. Absent for a lone run.
   */
  history?: { run: RunView; events: TraceEvent[] }[];
}

/** What a step did: the tool calls the model asked for (name + canonical arguments), or its final answer. */
export interface PathStep {
  step: number;
  calls: string[];
}

export interface ReplayPath {
  steps: PathStep[];
  status: RunStatus;
  stopReason: StopReason | null;
}

/** The path of a trace: for each step, the tool calls of its last successful model call. */
export function pathOf(events: TraceEvent[], run: Pick<RunView, 'status' | 'stopReason'>): ReplayPath {
  const byStep = new Map<number, string[]>();
  for (const e of events) {
    // A call discarded because the run was cancelled meanwhile is not a step of the path.
    if (e.type !== 'model_call' || e.error || e.discarded) continue;
    const calls = (e.output?.toolCalls ?? []).map((c) => `${c.name}(${canonicalJson(c.arguments)})`).sort();
    byStep.set(e.step, calls);
  }
  return { steps: [...byStep.entries()].sort(([a], [b]) => a - b).map(([step, calls]) => ({ step, calls })), status: run.status, stopReason: run.stopReason ?? null };
}

export type ReplayVerdict = { matched: true } | { matched: false; step: number | null; reason: string };

/** Compares two paths; names the first step where they part. */
export function comparePaths(recorded: ReplayPath, replayed: ReplayPath): ReplayVerdict {
  const n = Math.max(recorded.steps.length, replayed.steps.length);
  for (let i = 0; i < n; i++) {
    const a = recorded.steps[i];
    const b = replayed.steps[i];
    if (!a || !b) return { matched: false, step: (a ?? b)?.step ?? null, reason: a ? `the replay stopped before step ${a.step}` : `the replay went on to step ${b?.step}` };
    if (canonicalJson(a.calls) !== canonicalJson(b.calls)) {
      return { matched: false, step: a.step, reason: `step ${a.step}: recorded ${a.calls.join(', ') || 'a final answer'}, replayed ${b.calls.join(', ') || 'a final answer'}` };
    }
  }
  if (recorded.status !== replayed.status || recorded.stopReason !== replayed.stopReason) {
    return { matched: false, step: null, reason: `recorded ${recorded.status}/${recorded.stopReason}, replayed ${replayed.status}/${replayed.stopReason}` };
  }
  return { matched: true };
}

/** Thrown when the replay asks for something the recording does not have: the path diverged there. */
export class ReplayDiverged extends Error {
  override name = 'ReplayDiverged';
}

/**
 * Models and tools that serve the recording, in order, per step: each model call of a step gets the next recorded
 * model call of that step (an error re-raised as the same taxonomy error), each tool call the next recorded result.
 */
export function recordedDependencies(recorded: RecordedRun): {
  model: (tier: Tier) => ModelProvider;
  runTool: (call: ToolCall, ctx: ToolContext) => Promise<ToolResult>;
} {
  const { models, tools, summaries } = recordedCalls(recorded.events);
  const model = (tier: Tier): ModelProvider => ({
    provider: 'replay',
    model: tier,
    async complete(request: ModelRequest): Promise<ModelResponse> {
      const step = request.step ?? request.messages.filter((m) => m.role === 'assistant').length + 1;
      if (request.purpose === 'summary') {
        const summary = summaries.get(step)?.shift();
        if (!summary) throw new ReplayDiverged(`no recorded context summary for step ${step}`);
        return { text: summary.text, toolCalls: [], usage: summary.usage, finishReason: 'stop', model: 'replay' };
      }
      const next = models.get(step)?.shift();
      if (!next) throw new ReplayDiverged(`no recorded model call left for step ${step}`);
      if (next.error) throw errorFromName(next.error.name, next.error.message);
      const output = next.output;
      if (!output) throw new ReplayDiverged(`the recorded model call of step ${step} has no answer`);
      return {
        text: output.text,
        toolCalls: output.toolCalls,
        usage: next.usage ?? { inputTokens: 0, outputTokens: 0 },
        finishReason: String(next.finishReason ?? 'replay'),
        model: String(next.model ?? 'replay'),
      };
    },
  });
  const runTool = async (call: ToolCall, ctx: ToolContext): Promise<ToolResult> => {
    const next = tools.get(`${ctx.step}#${ctx.toolCallId}`)?.shift();
    if (!next) throw new ReplayDiverged(`no recorded result for tool ${call.name} (${ctx.toolCallId}) at step ${ctx.step}`);
    if (next.error) throw errorFromName(next.error.name, next.error.message);
    return { content: String(next.result ?? ''), ...(next.isError ? { isError: true } : {}) };
  };
  return { model, runTool };
}

/**
 * The recorded model calls per step and tool calls per (step, call), in order. A call discarded because the run was
 * cancelled meanwhile is never part of what the run saw; a RecordToolFailure result is rebuilt from the failure the
 * replayed tool raises again.
 */
function recordedCalls(events: TraceEvent[]): { models: Map<number, ModelCallEvent[]>; tools: Map<string, ToolCallEvent[]>; summaries: Map<number, RecordedSummary[]> } {
  const summaries = new Map<number, RecordedSummary[]>();
  const models = new Map<number, ModelCallEvent[]>();
  const tools = new Map<string, ToolCallEvent[]>();
  for (const e of events) {
    if (isLifeEvent(e)) continue;
    switch (e.type) {
      case 'model_call':
        if (!e.discarded) models.set(e.step, [...(models.get(e.step) ?? []), e]);
        break;
      case 'tool_call': {
        if (e.discarded || e.failure) break;
        const key = `${e.step}#${e.toolCallId}`;
        tools.set(key, [...(tools.get(key) ?? []), e]);
        break;
      }
      // Nothing to serve: the replay's own execution writes these again.
      case 'unrecognized':
        break;
      // A summary call is served from its compaction (the replay compacts at the same step: the same prompt).
      case 'context_compacted':
        if (e.summary) summaries.set(e.step, [...(summaries.get(e.step) ?? []), e.summary]);
        break;
      default:
        assertNever(e);
    }
  }
  return { models, tools, summaries };
}

type RecordedSummary = NonNullable<ContextCompactedEvent['summary']>;

/**
 * The tool servers a recording could not list (its `fallback` events with `listing: true`): a replay reports them
 * the same way instead of asking the servers again.
 */
export function recordedUnavailableTools(recorded: RecordedRun): DegradedEntry[] {
  const out: DegradedEntry[] = [];
  for (const e of recorded.events) {
    if (e.type !== 'fallback' || !e.listing) continue;
    const entry = { dependency: e.dependency, reason: e.reason, fallback: e.fallback };
    if (!out.some((d) => d.dependency === entry.dependency && d.fallback === entry.fallback)) out.push(entry);
  }
  return out;
}

/**
 * A run's messages rebuilt from its trace (the trace readers resolve each answer and tool result from the message
 * items): its question, then each step's answer followed by that step's tool results in the order the answer asked
 * for them. Calls that failed or were discarded by a cancel wrote no message. Reasoning blocks are not in the trace.
 */
export function messagesOfTrace(events: TraceEvent[]): StoredMessage[] {
  const out: StoredMessage[] = [];
  const push = (step: number, message: StoredMessage['message'], at: string) => out.push({ step, seq: out.filter((m) => m.step === step).length, message, at });
  const started = events.find((e) => e.type === 'run_started');
  if (started?.type === 'run_started') push(0, { role: 'user', content: started.input }, started.at);
  const results = events.filter((e): e is ToolCallEvent => e.type === 'tool_call' && e.result != null && !e.discarded);
  for (const e of events) {
    if (e.type !== 'model_call' || e.error || e.discarded || !e.output) continue;
    const { text, toolCalls } = e.output;
    push(e.step, { role: 'assistant', content: text, toolCalls }, e.at);
    for (const call of toolCalls) {
      const result = results.find((r) => r.step === e.step && r.toolCallId === call.id);
      if (result) push(e.step, { role: 'tool', toolCallId: call.id, name: call.name, content: String(result.result), ...(result.isError ? { isError: true } : {}) }, result.at);
    }
  }
  return out;
}

/** The history a recorded thread run was sent (as lambdas/core/threads.ts threadConversation builds it), from its earlier runs' recordings. */
export function recordedHistory(recorded: RecordedRun): StoredMessage[] {
  return earlierTurns((recorded.history ?? []).map((h) => turnOf(messagesOfTrace(h.events), h.run)));
}

/**
 * Compares the size of each step's first answered request (how many messages the model was sent): a replay that
 * lacks the recording's history, or builds the prompt differently, diverges here even when the answers served match.
 */
export function comparePrompts(recorded: TraceEvent[], replayed: TraceEvent[]): ReplayVerdict {
  const sizes = (events: TraceEvent[]) => {
    const bySize = new Map<number, number>();
    for (const e of events) if (e.type === 'model_call' && !e.error && !e.discarded && e.input && !bySize.has(e.step)) bySize.set(e.step, e.input.messages);
    return bySize;
  };
  const replayedSizes = sizes(replayed);
  for (const [step, messages] of sizes(recorded)) {
    const again = replayedSizes.get(step);
    if (again !== undefined && again !== messages) {
      return {
        matched: false,
        step,
        reason: `step ${step}: the recorded request had ${messages} messages, the replayed one ${again} (a thread run replays with its earlier runs: agent replay reads them from the thread)`,
      };
    }
  }
  return { matched: true };
}
