import { excerpt } from '../answer';
import { gateToolCall } from '../approvals';
import { BadRequest, causeMessage, toAgentError } from '../errors';
import { idempotencyKeyFor } from '../signature';
import { type CaughtError, trace } from '../trace';
import type { ToolCall, ToolResult } from '../types';
import { isFinal, type LoopDeps, mustGetRun } from './state';

export interface ToolStepInput {
  runId: string;
  step: number;
  toolCallId: string;
  /** Set by the Catch path: the tool kept failing, so its error becomes its result. */
  failure?: CaughtError;
}

export interface ToolStepOutput {
  toolCallId: string;
  isError: boolean;
  stopped?: boolean;
}

type ToolDeps = Pick<LoopDeps, 'runs' | 'runTool' | 'clock' | 'log' | 'approvals'>;

/** The call of the step and its message's seq (its result's slot). */
interface Located {
  call: ToolCall;
  seq: number;
  idempotencyKey: string;
}

/**
 * CallTool / RecordToolFailure: runs one tool call and checkpoints its result as a message. Idempotent per (run,
 * step, call): a call whose result is stored is not run again. Transient failures are thrown (the state machine
 * retries them); every other failure becomes the tool's result, so the model sees it and the run goes on.
 */
export async function toolStep(deps: ToolDeps, input: ToolStepInput): Promise<ToolStepOutput> {
  const { runId, step, toolCallId } = input;
  const clock = deps.clock ?? Date.now;
  // A final run (CANCELLED, KILLED...) makes no tool request; the next CallModel sees it too and leaves the loop.
  if (isFinal(await mustGetRun(deps.runs, runId))) return { toolCallId, isError: false, stopped: true };
  const located = await locateCall(deps, input);
  const done = await deps.runs.getMessage(runId, step, located.seq);
  if (done && done.message.role === 'tool') return { toolCallId, isError: Boolean(done.message.isError) };
  const started = clock();
  const result = await resultOf(deps, input, located, started);
  if (!result) return { toolCallId, isError: false, stopped: true };
  return checkpointResult(deps, input, located, result, started);
}

/** The call in the step's assistant message (a BadRequest when there is none: the payload names a call that never was). */
async function locateCall(deps: ToolDeps, input: ToolStepInput): Promise<Located> {
  const { runId, step, toolCallId } = input;
  const assistant = await deps.runs.getMessage(runId, step, 0);
  if (assistant?.message.role !== 'assistant') throw new BadRequest(`run ${runId} has no model turn at step ${step}`);
  const index = assistant.message.toolCalls.findIndex((c) => c.id === toolCallId);
  const call = assistant.message.toolCalls[index];
  if (!call) throw new BadRequest(`run ${runId} step ${step} has no tool call ${toolCallId}`);
  return { call, seq: index + 1, idempotencyKey: idempotencyKeyFor(runId, step, toolCallId) };
}

/**
 * The call's result: a refusal without an approval on record, the error it kept failing with (RecordToolFailure), or
 * the tool run; undefined when the run was finalized just before the request. A transient error is traced and thrown.
 */
async function resultOf(deps: ToolDeps, input: ToolStepInput, { call, idempotencyKey }: Located, started: number): Promise<ToolResult | undefined> {
  const { runId, step, toolCallId } = input;
  const clock = deps.clock ?? Date.now;
  // An approval-required call runs only with an "approve" on record (../approvals.ts).
  const refused = deps.approvals?.requires(call.name) ? gateToolCall(await deps.runs.getRun(runId), step, call) : undefined;
  if (refused) return refused;
  // Failed after all its retries: the model reads why, and the run records the tool as degraded (a notice on the
  // answer, as for a failed model).
  if (input.failure) {
    return {
      content: `The tool failed after retries (${input.failure.Error}): ${excerpt(causeMessage(input.failure.Cause), 500)}`,
      isError: true,
      degraded: { dependency: `tool:${call.name}`, reason: input.failure.Error, fallback: 'none' },
    };
  }
  // Read again right before the request: a cancel that landed while this step read its messages stops it here.
  if (isFinal(await mustGetRun(deps.runs, runId))) return undefined;
  try {
    return await deps.runTool(call, { runId, step, toolCallId, idempotencyKey });
  } catch (err) {
    const e = toAgentError(err);
    await deps.runs.appendEvent(
      runId,
      trace.toolCall({ ...callFacts(input, call, idempotencyKey, clock() - started), error: { name: e.name, message: excerpt(e.message, 1000) } }),
    );
    deps.log?.('tool call failed', { runId, step, tool: call.name, error: e.name });
    throw e;
  }
}

/** What every tool_call event of one call says: the step, the call, its arguments and key, how long it took. */
function callFacts(input: { step: number; toolCallId: string }, call: ToolCall, idempotencyKey: string, latencyMs: number) {
  return { step: input.step, toolCallId: input.toolCallId, name: call.name, arguments: call.arguments, idempotencyKey, latencyMs };
}

/**
 * The result written once, in its message, with the trace event (referencing it) in the same item; a fallback that
 * answered is recorded as degraded. A run finalized while the call was in flight gets the call traced as discarded,
 * its result not checkpointed.
 */
async function checkpointResult(deps: ToolDeps, input: ToolStepInput, { call, seq, idempotencyKey }: Located, result: ToolResult, started: number): Promise<ToolStepOutput> {
  const { runId, step, toolCallId } = input;
  const clock = deps.clock ?? Date.now;
  const isError = Boolean(result.isError);
  const resultAt = new Date().toISOString();
  const after = await mustGetRun(deps.runs, runId);
  if (isFinal(after)) {
    await deps.runs.appendEvent(runId, trace.toolCall({ step, toolCallId, name: call.name, idempotencyKey, latencyMs: clock() - started, isError, discarded: after.status }));
    return { toolCallId, isError, stopped: true };
  }
  if (result.degraded) {
    await deps.runs.addDegraded(runId, result.degraded);
    await deps.runs.appendEvent(runId, trace.fallback({ step, ...result.degraded }));
  }
  await deps.runs.putMessage(
    runId,
    { step, seq, message: { role: 'tool', toolCallId, name: call.name, content: result.content, ...(result.isError ? { isError: true } : {}) }, at: new Date().toISOString() },
    trace.toolCall({
      at: resultAt,
      ...callFacts(input, call, idempotencyKey, clock() - started),
      resultRef: { step, seq },
      isError,
      ...(result.source ? { source: result.source } : {}),
      ...(input.failure ? { failure: input.failure.Error } : {}),
    }),
  );
  return { toolCallId, isError };
}
