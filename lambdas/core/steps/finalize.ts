import { degradationNotice, partialAnswer, surrenderNotice, withNotice } from '../answer';
import { budgetReasonOf } from '../errors';
import { OUTPUT_INVALID, parseAnswerJson } from '../output-json';
import type { RunRecord } from '../ports';
import { toUsd } from '../pricing';
import { utcDay } from '../spend';
import { assertNever, trace } from '../trace';
import { type DegradedEntry, isStopReason, type Message, type RunStatus, type StopReason, type Usage } from '../types';
import { isFinal, type LoopDeps, type LoopState, mustGetRun } from './state';

export type Outcome = 'FINISH' | 'SURRENDER' | 'DEGRADE' | 'REFUSED';

export interface FinalizeInput {
  /** The loop state as the exit got it (a Catch's `error`, a Pass's `stopReason` included). */
  state: LoopState;
  outcome: Outcome;
}

/**
 * What Finalize returns (the execution's output): the run's id and final status, never its answer. A state's
 * output is capped at 256 KB and the answer may be longer; readers take the run from the table.
 */
export interface FinalizeOutput {
  runId: string;
  status: RunStatus;
  stopReason: StopReason | null;
}

/** The final status, the stop reason, the answer the user sees; `degraded` when the exit itself degrades the run. */
interface Ending {
  status: RunStatus;
  stopReason: StopReason | null;
  answer: string;
  degraded?: DegradedEntry;
  /** The parsed structured answer (a run with an output schema whose answer satisfies it). */
  output?: unknown;
}

/**
 * A finished run with an output schema (docs/agent.md): its answer satisfies the schema (the model step checked it:
 * `state.output`) → `output` is the parsed JSON and the answer is the JSON as the model wrote it; it does not →
 * UNFINISHED / OUTPUT_INVALID with the raw answer kept. Undefined for every other run and exit.
 */
function structured(deps: FinalizeDeps, run: RunRecord, state: LoopState, outcome: Outcome, messages: Message[]): Ending | undefined {
  if (outcome !== 'FINISH' || !(run.outputSchema ?? deps.output)) return undefined;
  const last = [...messages].reverse().find((m) => m.role === 'assistant');
  const raw = last?.role === 'assistant' ? last.content : '';
  let value: unknown;
  try {
    value = state.output === 'invalid' ? undefined : parseAnswerJson(raw);
  } catch {
    value = undefined;
  }
  const degraded = run.degraded ?? [];
  if (value === undefined) return { status: 'UNFINISHED', stopReason: OUTPUT_INVALID, answer: withNotice(surrenderNotice(OUTPUT_INVALID, run.step), raw) };
  // The answer stays the JSON itself (a program parses it); what degraded is in the run's `degraded`.
  return { status: degraded.length ? 'DEGRADED' : 'SUCCEEDED', stopReason: null, answer: raw, output: value };
}

type FinalizeDeps = Pick<LoopDeps, 'runs' | 'log' | 'output' | 'spend' | 'now'>;

/**
 * A context summary no step counted: made at a step after the run's last counted one, for a call that never
 * answered (the run ended through Degrade or a budget at that step; ./compaction.ts). Its usage and cost
 * go into the run's at its end, so whichever exit Finalize takes, the summary is in the run's usage and dollars.
 */
export function uncountedSummary(run: Pick<RunRecord, 'contextView' | 'step'>): { usage: Usage; costMicros: number } | undefined {
  const summary = run.contextView?.summary;
  if (!summary || summary.atStep <= run.step) return undefined;
  return { usage: summary.usage, costMicros: summary.costMicros ?? 0 };
}

const outputOf = (run: RunRecord): FinalizeOutput => ({ runId: run.runId, status: run.status, stopReason: run.stopReason ?? null });

/** Finish / Surrender / Degrade / Refused: the one exit of every run, writing its final status, its answer and a trace event. */
export async function finalize(deps: FinalizeDeps, input: FinalizeInput): Promise<FinalizeOutput> {
  const { state, outcome } = input;
  const run = await mustGetRun(deps.runs, state.runId);
  // Never over a final status (a cancel that landed first): nothing written, no second run_finished.
  if (isFinal(run)) return outputOf(run);
  const messages = (await deps.runs.listMessages(state.runId)).map((m) => m.message);
  const ending = structured(deps, run, state, outcome, messages) ?? endingOf(outcome, state, run, messages);
  if (ending.degraded) await deps.runs.addDegraded(state.runId, ending.degraded);
  // The approval timeout ends the run only while a call is still undecided: a last decision that landed first has
  // the run going on (its decider continues it, ../approvals.ts), and this execution leaves without a word.
  const expiringApprovals = ending.stopReason === 'APPROVAL_EXPIRED';
  const uncounted = uncountedSummary(run);
  const final = await deps.runs.finalizeRun(
    state.runId,
    { status: ending.status, answer: ending.answer, stopReason: ending.stopReason, ...(ending.output !== undefined ? { output: ending.output } : {}), ...uncounted },
    { expiringApprovals },
  );
  // finalizeRun only moves a RUNNING or PAUSED run: another status means someone else finalized it first.
  if (final.status !== ending.status || final.stopReason !== ending.stopReason) return outputOf(final);
  // The day's counters get the uncounted summary once: with the one write that ended the run.
  if (uncounted && uncounted.costMicros > 0 && deps.spend) await deps.spend.add(final.userId, utcDay(deps.now?.() ?? new Date()), uncounted.costMicros);
  await traceEnding(deps, input, run, final);
  deps.log?.('run finished', { runId: state.runId, status: final.status, stopReason: final.stopReason, steps: final.step });
  return outputOf(final);
}

/** How each exit ends the run. */
function endingOf(outcome: Outcome, state: LoopState, run: RunRecord, messages: Message[]): Ending {
  const degraded = run.degraded ?? [];
  switch (outcome) {
    case 'FINISH':
      return { status: degraded.length ? 'DEGRADED' : 'SUCCEEDED', stopReason: null, answer: withNotice(degradationNotice(degraded), partialAnswer(messages)) };
    case 'SURRENDER': {
      // A budget error names its reason (token, cost, daily spend); the Pass before Surrender sets the others.
      const stopReason = budgetReasonOf(state.error) ?? (isStopReason(state.stopReason) ? state.stopReason : 'STEP_BUDGET');
      return { status: 'UNFINISHED', stopReason, answer: withNotice(surrenderNotice(stopReason, run.step), withNotice(degradationNotice(degraded), partialAnswer(messages))) };
    }
    case 'DEGRADE': {
      const entry = {
        dependency: degraded.some((d) => d.fallback === 'model:fallback') ? 'model:fallback' : 'model:primary',
        reason: state.error?.Error ?? 'unknown',
        fallback: 'partial-answer',
      };
      return { status: 'DEGRADED', stopReason: 'MODELS_UNAVAILABLE', answer: withNotice(degradationNotice([...degraded, entry]), partialAnswer(messages)), degraded: entry };
    }
    case 'REFUSED':
      return { status: 'SUCCEEDED', stopReason: 'MODEL_REFUSAL', answer: 'The model declined to answer this request (content policy).' };
    default:
      return assertNever(outcome);
  }
}

/** `surrender` (for a surrender) and `run_finished` with the run's usage. */
async function traceEnding(deps: FinalizeDeps, input: FinalizeInput, run: RunRecord, final: RunRecord): Promise<void> {
  const { state } = input;
  if (input.outcome === 'SURRENDER') await deps.runs.appendEvent(state.runId, trace.surrender({ step: run.step, stopReason: final.stopReason ?? null }));
  await deps.runs.appendEvent(
    state.runId,
    trace.runFinished({
      step: run.step,
      status: final.status,
      stopReason: final.stopReason ?? null,
      ...(state.error ? { error: state.error } : {}),
      usage: { inputTokens: final.tokensIn, outputTokens: final.tokensOut, costUsd: toUsd(final.costMicros ?? 0) },
    }),
  );
}
