import type { ExecutionPort, RunUpdates } from './control';
import { ApprovalExpired, BadRequest, Conflict } from './errors';
import type { ApprovalEntry, RunRecord, RunRepository } from './ports';
import { trace } from './trace';
import type { PendingApproval, ToolCall, ToolResult } from './types';

/**
 * Approval-required tools (docs/api.md): when the model calls one, Route sends the step to the AwaitApproval task
 * (.waitForTaskToken), whose handler records the step's approval-required calls on the run and the token; the run is
 * AWAITING_APPROVAL. A person approves or rejects each call; the decision of the last waiting call completes the
 * token and the step's tool calls run as any others (a rejected call's result is written by its decision, so
 * CallTool finds it done). The task's timeout is the approval timeout: past it the run ends APPROVAL_EXPIRED.
 */

export type Decision = 'approve' | 'reject';

/** Which tools need a decision before a call runs (from config: ./config-env.ts approvalRequiredTools). */
export interface ApprovalPolicy {
  requires(toolName: string): boolean;
  /** How long a call waits for its decision. */
  timeoutSeconds: number;
}

export function approvalPolicy(toolNames: Iterable<string>, timeoutSeconds: number): ApprovalPolicy {
  const names = new Set(toolNames);
  return { requires: (name) => names.has(name), timeoutSeconds };
}

/** The decision recorded for a call of a step, if any. */
function decisionOf(run: Pick<RunRecord, 'approvals' | 'approvalStep'> | undefined, step: number, toolCallId: string): ApprovalEntry | undefined {
  const entry = run?.approvals?.[toolCallId];
  return entry && entry.step === step && run?.approvalStep === step && entry.decision ? entry : undefined;
}

/**
 * True when some of a step's calls that have no result yet need a decision nobody has made: the loop's hook
 * (modelStep and checkpointState set `approvalRequired` from it, Route sends such a step to AwaitApproval).
 */
export function needsDecision(policy: ApprovalPolicy | undefined, run: RunRecord, step: number, undone: Pick<ToolCall, 'id' | 'name'>[]): boolean {
  if (!policy) return false;
  return undone.some((c) => policy.requires(c.name) && !decisionOf(run, step, c.id));
}

/** What a rejected call returns to the model. */
export function rejectionResult(name: string, reason: string | null | undefined): ToolResult {
  return {
    content: `A person rejected this call to ${name}; it did not run.${reason ? ` Reason: ${reason}` : ' No reason was given.'} Do not call it again unless the user asks; go on without it.`,
    isError: true,
  };
}

/**
 * CallTool's hook before it runs an approval-required call: undefined = approved, run it; otherwise the result the
 * call gets instead (rejected, or, should the run ever get here without a decision, refused). A call that needs
 * approval never runs without an "approve" on record.
 */
export function gateToolCall(run: RunRecord | undefined, step: number, call: Pick<ToolCall, 'id' | 'name'>): ToolResult | undefined {
  const entry = decisionOf(run, step, call.id);
  if (entry?.decision === 'approve') return undefined;
  if (entry?.decision === 'reject') return rejectionResult(call.name, entry.reason);
  return { content: `The call to ${call.name} needs a person's approval and has none; it did not run.`, isError: true };
}

/** The run's calls waiting for a decision (GET /runs/{id} `pendingApprovals`). */
export function pendingApprovalsOf(run: Pick<RunRecord, 'status' | 'approvals' | 'approvalStep'>): PendingApproval[] {
  if (run.status !== 'AWAITING_APPROVAL' || !run.approvals) return [];
  return Object.values(run.approvals)
    .filter((e) => e.step === run.approvalStep && !e.decision)
    .sort((a, b) => a.requestedAt.localeCompare(b.requestedAt) || a.toolCallId.localeCompare(b.toolCallId))
    .map(({ toolCallId, name, arguments: args, requestedAt, expiresAt }) => ({ toolCallId, name, arguments: args, requestedAt, expiresAt }));
}

/** The run-store writes approvals need (lambdas/store/run-store.ts). */
export interface ApprovalStore extends RunRepository, RunUpdates {
  requestApprovals(runId: string, step: number, approvals: Record<string, ApprovalEntry>, taskToken: string): Promise<RunRecord | undefined>;
  recordDecision(runId: string, toolCallId: string, d: { decision: Decision; reason: string | null; decidedBy: string; decidedAt: string }): Promise<RunRecord | undefined>;
}

export interface AwaitApprovalInput {
  state: { runId: string; step: number };
  taskToken: string;
}

/**
 * The AwaitApproval state's handler: records the step's approval-required calls that have no result and no decision
 * (decisions already made for this step are kept: a resumed execution only waits for the rest), stores the task
 * token, marks the run AWAITING_APPROVAL and traces one approval_requested per call. The execution then waits.
 */
export async function awaitApproval(deps: { runs: ApprovalStore; policy: ApprovalPolicy; clock?: () => number }, input: AwaitApprovalInput): Promise<{ waiting: number }> {
  const { runId, step } = input.state;
  const now = (deps.clock ?? Date.now)();
  const run = await deps.runs.getRun(runId);
  if (!run) throw new BadRequest(`run ${runId} does not exist`);
  const assistant = await deps.runs.getMessage(runId, step, 0);
  if (assistant?.message.role !== 'assistant') throw new BadRequest(`run ${runId} has no model turn at step ${step}`);
  const calls = assistant.message.toolCalls;
  const approvals: Record<string, ApprovalEntry> = {};
  const requested: ApprovalEntry[] = [];
  for (const [index, call] of calls.entries()) {
    if (!deps.policy.requires(call.name)) continue;
    const kept = run.approvalStep === step ? run.approvals?.[call.id] : undefined;
    if (kept) {
      approvals[call.id] = kept;
      continue;
    }
    if (await deps.runs.getMessage(runId, step, index + 1)) continue;
    const entry: ApprovalEntry = {
      toolCallId: call.id,
      name: call.name,
      arguments: call.arguments ?? null,
      step,
      requestedAt: new Date(now).toISOString(),
      expiresAt: new Date(now + deps.policy.timeoutSeconds * 1000).toISOString(),
    };
    approvals[call.id] = entry;
    requested.push(entry);
  }
  const updated = await deps.runs.requestApprovals(runId, step, approvals, input.taskToken);
  if (!updated) return { waiting: 0 }; // no longer RUNNING (cancelled meanwhile): its execution is being stopped
  for (const e of requested) {
    await deps.runs.appendEvent(runId, trace.approvalRequested({ step, toolCallId: e.toolCallId, name: e.name, arguments: e.arguments, expiresAt: e.expiresAt }));
  }
  return { waiting: pendingApprovalsOf(updated).length };
}

export interface DecisionInput {
  runId: string;
  toolCallId: string;
  decision: Decision;
  reason?: string;
  /** Who decided (the verified caller: the run's owner or an admin). */
  decidedBy: string;
}

/**
 * A person's decision on one waiting call. Recorded once (a second decision, or one for a call that is not waiting,
 * is a Conflict); a rejection writes the call's result for the model at once; the decision of the step's last
 * waiting call sets the run RUNNING again and completes the task token. When the waiting execution is gone
 * (engine restart), a new execution continues from the checkpoint, as resume does.
 */
export async function decideApproval(deps: { runs: ApprovalStore; executions: ExecutionPort; clock?: () => number }, input: DecisionInput): Promise<{ remaining: number }> {
  const { runs } = deps;
  const { runId, toolCallId } = input;
  const now = (deps.clock ?? Date.now)();
  const run = await runs.getRun(runId);
  if (!run) throw new Conflict(`run ${runId} does not exist`);
  const waiting = pendingApprovalsOf(run).find((p) => p.toolCallId === toolCallId);
  if (!waiting) {
    const known = run.approvals?.[toolCallId];
    if (known && !known.decision && run.stopReason === 'APPROVAL_EXPIRED') {
      throw new ApprovalExpired(`the approval of tool call ${toolCallId} of run ${runId} expired at ${known.expiresAt}; the run ended APPROVAL_EXPIRED`);
    }
    const why = known?.decision ? `was already decided (${known.decision})` : `is not waiting for a decision (run is ${run.status})`;
    throw new Conflict(`tool call ${toolCallId} of run ${runId} ${why}`);
  }
  const expired = () => new ApprovalExpired(`the approval of tool call ${toolCallId} of run ${runId} expired at ${waiting.expiresAt}; a decision is accepted only before then`);
  if (now >= Date.parse(waiting.expiresAt)) throw expired();
  const step = run.approvalStep ?? 0;
  const reason = input.reason?.trim() ? input.reason.trim() : null;
  // Conditional on the call still waiting and its expiresAt not passed: an accepted decision is one recorded before
  // the approval timeout's ending, which is conditional on an undecided call (RunStore.finalizeRun).
  const updated = await runs.recordDecision(runId, toolCallId, { decision: input.decision, reason, decidedBy: input.decidedBy, decidedAt: new Date(now).toISOString() });
  if (!updated) {
    if ((deps.clock ?? Date.now)() >= Date.parse(waiting.expiresAt)) throw expired();
    throw new Conflict(`tool call ${toolCallId} of run ${runId} is no longer waiting for a decision`);
  }

  if (input.decision === 'reject') {
    const assistant = await runs.getMessage(runId, step, 0);
    const index = assistant?.message.role === 'assistant' ? assistant.message.toolCalls.findIndex((c) => c.id === toolCallId) : -1;
    if (index >= 0) {
      const result = rejectionResult(waiting.name, reason);
      await runs.putMessage(runId, {
        step,
        seq: index + 1,
        message: { role: 'tool', toolCallId, name: waiting.name, content: result.content, isError: true },
        at: new Date(now).toISOString(),
      });
    }
  }
  await runs.appendEvent(
    runId,
    trace.approvalDecided({
      step,
      toolCallId,
      name: waiting.name,
      decision: input.decision,
      reason,
      decidedBy: input.decidedBy,
      latencyMs: Math.max(0, now - Date.parse(waiting.requestedAt)),
    }),
  );

  const remaining = pendingApprovalsOf(updated).length;
  if (remaining > 0) return { remaining };
  // Only the write that decided the last waiting call sees none left: exactly one decider wakes the execution.
  const moved = await runs.updateRun(runId, { status: 'RUNNING' }, { statusIn: ['AWAITING_APPROVAL'] });
  if (!moved) return { remaining };
  try {
    if (!updated.taskToken) throw new Error('no task token');
    await deps.executions.sendTaskSuccess(updated.taskToken, 'false');
  } catch {
    // The waiting execution is gone (its task timed out meanwhile, the engine restarted): continue from the
    // checkpoint (the decisions are on the run). `resumes` is set before the start, so the run_resumed that LoadRun
    // writes names the attempt: one execution, one run_resumed.
    const attempt = (updated.resumes ?? 0) + 1;
    await runs.updateRun(runId, { resumes: attempt });
    const { executionArn } = await deps.executions.start({ runId, userId: updated.userId, attempt });
    if (executionArn) await runs.updateRun(runId, { executionArn });
  }
  return { remaining };
}
