import { type ApprovalStore, decideApproval } from './approvals';
import { Conflict } from './errors';
import type { RunControl, RunRecord, RunRepository } from './ports';
import { trace } from './trace';
import { ACTIVE_STATUSES, type RunStatus, type StopReason } from './types';

/** What a RunControl needs from the engine that runs executions (Step Functions in AWS, the offline engine locally). */
export interface ExecutionPort {
  /** Starts an execution for the run; `attempt` > 0 for a resume from the checkpoint (a fresh execution name). */
  start(run: { runId: string; userId: string; attempt: number }): Promise<{ executionArn?: string }>;
  /** Completes a waiting task (the Pause state) with a JSON output. */
  sendTaskSuccess(taskToken: string, output: string): Promise<void>;
  /** Stops the run's execution, if it is still going. */
  stop(run: { runId: string; executionArn?: string }): Promise<void>;
}

/**
 * The transitions of a run from outside, shared by the API and the CLI, in AWS and offline:
 * - pause: RUNNING → the loop stops at the next tool-call boundary (Pause state), the run is then PAUSED;
 * - resume: PAUSED → RUNNING (the task token is sent back); FAILED, or PAUSED after an engine restart → a new
 *   execution continues from the checkpoint (same runId, same trace);
 * - cancel: RUNNING, PAUSED or AWAITING_APPROVAL → CANCELLED, the execution is stopped;
 * - decide: a person's decision on a call AWAITING_APPROVAL (lambdas/core/approvals.ts).
 * Anything else is a Conflict that says what is allowed.
 */
export function createRunControl(deps: {
  runs: RunRepository & RunUpdates & Partial<Pick<ApprovalStore, 'requestApprovals' | 'recordDecision'>>;
  executions: ExecutionPort;
}): RunControl {
  const { runs, executions } = deps;
  const mustGet = async (runId: string) => {
    const run = await runs.getRun(runId);
    if (!run) throw new Conflict(`run ${runId} does not exist`);
    return run;
  };
  return {
    async start({ runId, userId }) {
      const { executionArn } = await executions.start({ runId, userId, attempt: 0 });
      if (executionArn) await runs.updateRun(runId, { executionArn });
    },
    async pause(runId) {
      const run = await mustGet(runId);
      if (run.status !== 'RUNNING') throw new Conflict(`run ${runId} is ${run.status}; only a RUNNING run can be paused`);
      if (run.pauseRequested) throw new Conflict(`run ${runId} already has a pause requested; it pauses at its next tool-call boundary`);
      const updated = await runs.updateRun(runId, { pauseRequested: true }, { statusIn: ['RUNNING'], notPauseRequested: true });
      if (!updated) throw new Conflict(`run ${runId} is no longer RUNNING, or a pause was requested meanwhile`);
      await runs.appendEvent(runId, trace.pauseRequested({ step: run.step }));
    },
    async resume(runId) {
      const run = await mustGet(runId);
      // Exactly one trace event per resume: `resumed` when the waiting execution goes on, else the `run_resumed`
      // that LoadRun writes when the new execution starts from the checkpoint. Every move is a conditional write on
      // the status (and the resume count) read here, so of concurrent resumes one wins and the others get a Conflict.
      let from = run.status;
      if (run.status === 'PAUSED' && run.taskToken) {
        const updated = await runs.updateRun(runId, { status: 'RUNNING', pauseRequested: false }, { statusIn: ['PAUSED'] });
        if (!updated) throw new Conflict(`run ${runId} is no longer PAUSED`);
        // Stamped before the token goes back, so it sorts before whatever the execution writes next.
        const at = new Date().toISOString();
        try {
          await executions.sendTaskSuccess(run.taskToken, 'false');
          await runs.appendEvent(runId, trace.resumed({ step: run.step, at }));
          return;
        } catch {
          // The waiting execution is gone (engine restarted, execution stopped): continue from the checkpoint below.
          from = 'RUNNING';
        }
      } else if (run.status !== 'FAILED' && run.status !== 'PAUSED') {
        throw new Conflict(`run ${runId} is ${run.status}; only a PAUSED or FAILED run can be resumed`);
      }
      // `resumes` is set before the start, so LoadRun's run_resumed names the attempt.
      const attempt = (run.resumes ?? 0) + 1;
      const moved = await runs.updateRun(runId, { status: 'RUNNING', pauseRequested: false, resumes: attempt }, { statusIn: [from], resumes: run.resumes ?? 0 });
      if (!moved) throw new Conflict(`run ${runId} changed (${from} before) while it was being resumed; read it again`);
      const { executionArn } = await executions.start({ runId, userId: run.userId, attempt });
      if (executionArn) await runs.updateRun(runId, { executionArn });
    },
    async cancel(runId, reason = 'CANCELLED') {
      const run = await mustGet(runId);
      if (!ACTIVE_STATUSES.includes(run.status)) throw new Conflict(`run ${runId} is ${run.status}; only a RUNNING, PAUSED or AWAITING_APPROVAL run can be cancelled`);
      const answer = reason === 'KILLED' ? 'The run was stopped by an administrator.' : 'The run was cancelled.';
      // One conditional write: of concurrent cancels (and admin stops) exactly one moves the run; the others get a
      // Conflict and write nothing.
      const final = await runs.finalizeIfActive(runId, { status: 'CANCELLED', answer, stopReason: reason });
      if (!final) throw new Conflict(`run ${runId} was stopped or finished before it could be cancelled; only a RUNNING, PAUSED or AWAITING_APPROVAL run can be cancelled`);
      await runs.appendEvent(runId, trace.cancelled({ step: run.step, stopReason: reason }));
      await executions.stop({ runId, executionArn: run.executionArn });
    },
    async decide(runId, toolCallId, decision) {
      const { requestApprovals, recordDecision } = runs;
      if (!requestApprovals || !recordDecision) throw new Conflict('this run store keeps no approvals');
      return decideApproval({ runs: runs as ApprovalStore, executions }, { runId, toolCallId, ...decision });
    },
  };
}

/** The run-item updates the control needs (implemented by RunStore.updateRun and RunStore.finalizeIfActive). */
export interface RunUpdates {
  /** Sets fields; with a condition, undefined when it did not hold. */
  updateRun(
    runId: string,
    fields: Partial<Pick<RunRecord, 'status' | 'pauseRequested' | 'taskToken' | 'executionArn' | 'resumes'>>,
    condition?: { statusIn: RunStatus[]; resumes?: number; notPauseRequested?: boolean },
  ): Promise<unknown>;
  /** Moves a run under way to a terminal status; undefined when another writer did first (or it was final). */
  finalizeIfActive(runId: string, result: { status: RunStatus; answer: string; stopReason: StopReason | null }): Promise<RunRecord | undefined>;
}
