import { needsDecision } from '../approvals';
import type { Budgets } from '../budget';
import { checkpointFormat, storedPrevCallSig } from '../checkpoint';
import { BadRequest } from '../errors';
import type { RunRecord } from '../ports';
import { callSignature } from '../signature';
import { createRunRecord } from '../start-run';
import { trace } from '../trace';
import { isFinal, type LoopDeps, type LoopState, stoppedState } from './state';

export interface StartInput {
  runId: string;
  userId?: string;
  input?: string;
  budgets?: Partial<Budgets>;
}

type LoadDeps = Pick<LoopDeps, 'runs' | 'maxToolCallsPerStep' | 'approvals' | 'instructions' | 'output'>;

/**
 * LoadRun: loads the run for a new or resumed execution (creating it when an execution was started without the API).
 * A run is rebuilt from the table alone: a resumed run continues where its checkpoint says — the next model call,
 * the tool calls of its last step that have no result yet, or the final answer it already has.
 */
export async function loadRun(deps: LoadDeps, start: StartInput, defaults: Budgets): Promise<LoopState> {
  const run = (await deps.runs.getRun(start.runId)) ?? (await createFromExecutionInput(deps, start, defaults));
  // An execution of a run that is already final (cancelled while the engine was down, a duplicate start) does
  // nothing: no event, no model call; Route sends it straight to Stopped.
  if (isFinal(run)) return stoppedState(run);
  const state = await checkpointState(deps, run);
  await traceStart(deps, run, state);
  return state;
}

/** An execution started without the API: the same record and budget policy as POST /runs (a raise is refused). */
async function createFromExecutionInput(deps: LoadDeps, start: StartInput, defaults: Budgets): Promise<RunRecord> {
  if (!start.input) throw new BadRequest(`run ${start.runId} does not exist and the execution input has no "input"`);
  return createRunRecord(deps.runs, defaults, { runId: start.runId, userId: start.userId ?? 'anonymous', input: start.input, budgets: start.budgets });
}

/** `run_started` for a new run; `run_resumed` (where it goes on, what is pending) for one with a checkpoint. */
async function traceStart(deps: LoadDeps, run: RunRecord, state: LoopState): Promise<void> {
  const budgets = { step: run.step, input: run.input, maxSteps: run.maxSteps, maxTokens: run.maxTokens, ...(run.maxCostUsd !== undefined ? { maxCostUsd: run.maxCostUsd } : {}) };
  const resumed = run.step > 0 || (run.resumes ?? 0) > 0;
  const event = resumed
    ? trace.runResumed({
        ...budgets,
        resumeAt: state.outcome,
        pendingToolCalls: state.toolCount,
        checkpointVersion: checkpointFormat(run),
        ...(run.resumes ? { attempt: run.resumes } : {}),
      })
    : trace.runStarted({
        ...budgets,
        // Which instructions the run starts with (the text for `agent trace --verbose` and the viewer), and its schema.
        ...(deps.instructions ? { instructions: { hash: deps.instructions.hash, text: deps.instructions.text } } : {}),
        ...((run.outputSchema ?? deps.output) ? { outputSchema: run.outputSchema ?? deps.output } : {}),
      });
  await deps.runs.appendEvent(run.runId, event);
}

/** The loop state a run's checkpoint stands for (see loadRun), in any format this version reads (../checkpoint.ts). */
export async function checkpointState(deps: LoadDeps, run: RunRecord): Promise<LoopState> {
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
    approvalRequired: needsDecision(
      deps.approvals,
      run,
      run.step,
      calls.filter((c) => !done.has(c.id)),
    ),
  };
}
