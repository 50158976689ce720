import { causeMessage } from './errors';
import type { RunRecord } from './ports';
import { trace } from './trace';
import { type StopReason, TERMINAL_STATUSES, type TraceEvent, type TraceEventDraft } from './types';

/** EventBridge's "Step Functions Execution Status Change" event (the fields the handler reads). */
export interface ExecutionStatusChangeEvent {
  source: string;
  'detail-type': string;
  time?: string;
  detail: {
    executionArn: string;
    stateMachineArn?: string;
    name?: string;
    status: string;
    input?: string | null;
    error?: string | null;
    cause?: string | null;
    startDate?: number;
    stopDate?: number | null;
  };
}

export const EXECUTION_STATUS_DETAIL_TYPE = 'Step Functions Execution Status Change';
/** The statuses that leave a run without an exit of its own: the rule listens to these only. */
export const CLOSING_STATUSES = ['FAILED', 'TIMED_OUT', 'ABORTED'] as const;
/** The statuses the rule delivers: every end of an execution (a thread's next queued run starts after any of them). */
export const ENDED_STATUSES = ['SUCCEEDED', ...CLOSING_STATUSES] as const;

export interface RunCloser {
  getRun(runId: string): Promise<RunRecord | undefined>;
  /** Moves a live run (RUNNING or PAUSED, of this execution) to a terminal status; changed=false when it was not. */
  closeExecution(
    runId: string,
    result: { status: 'FAILED' | 'CANCELLED'; answer: string; stopReason: StopReason },
    executionArn: string,
  ): Promise<{ run?: RunRecord; changed: boolean }>;
  appendEvent(runId: string, event: TraceEventDraft): Promise<TraceEvent>;
}

export type CloseOutcome = { runId?: string; closed: boolean; reason: string };

/** Longest cause quoted in the answer (Step Functions causes can be 32 KB). */
const MAX_CAUSE_CHARS = 2000;

/**
 * The run an execution works on: the execution input names it (`{runId, ...}`), else the execution name does
 * (`<runId>` or `<runId>-r<n>` for a resume).
 */
export function runIdOf(detail: ExecutionStatusChangeEvent['detail']): string | undefined {
  if (detail.input) {
    try {
      const input = JSON.parse(detail.input) as { runId?: unknown };
      if (typeof input.runId === 'string' && input.runId) return input.runId;
    } catch {
      /* fall through to the name */
    }
  }
  return detail.name?.replace(/-r\d+$/, '') || undefined;
}

/**
 * Closes the run of an execution that ended without reaching one of the machine's exits: FAILED (a real fault;
 * stopReason EXECUTION_FAILED, the error and cause in the answer), TIMED_OUT (FAILED / EXECUTION_TIMED_OUT) or
 * ABORTED (stopped outside the API: CANCELLED / ABORTED). Conditional: a run that is already terminal, or that a
 * newer execution now works on, is left alone, so a redelivered or late event changes nothing.
 */
export async function closeRunOnExecutionStatus(runs: RunCloser, event: ExecutionStatusChangeEvent): Promise<CloseOutcome> {
  const { detail } = event;
  if (event.source !== 'aws.states' || event['detail-type'] !== EXECUTION_STATUS_DETAIL_TYPE) return { closed: false, reason: 'not an execution status change' };
  if (!(CLOSING_STATUSES as readonly string[]).includes(detail.status)) return { closed: false, reason: `status ${detail.status} closes nothing` };
  const runId = runIdOf(detail);
  if (!runId) return { closed: false, reason: 'the execution names no run' };
  const run = await runs.getRun(runId);
  if (!run) return { runId, closed: false, reason: 'no such run' };
  if (TERMINAL_STATUSES.includes(run.status)) return { runId, closed: false, reason: `run is already ${run.status}` };
  if (run.executionArn && run.executionArn !== detail.executionArn) return { runId, closed: false, reason: 'a newer execution works on the run' };

  const error = detail.error ?? (detail.status === 'TIMED_OUT' ? 'States.Timeout' : detail.status);
  const cause = causeMessage(detail.cause ?? '').slice(0, MAX_CAUSE_CHARS);
  const result: { status: 'FAILED' | 'CANCELLED'; stopReason: StopReason; answer: string } =
    detail.status === 'ABORTED'
      ? { status: 'CANCELLED' as const, stopReason: 'ABORTED', answer: `The run was stopped outside the API (execution aborted)${cause ? `: ${cause}` : '.'}` }
      : {
          status: 'FAILED' as const,
          stopReason: detail.status === 'TIMED_OUT' ? 'EXECUTION_TIMED_OUT' : 'EXECUTION_FAILED',
          answer:
            detail.status === 'TIMED_OUT'
              ? `The run failed: its execution timed out${cause ? ` (${cause})` : ''}. It can be resumed from its checkpoint.`
              : `The run failed: ${error}${cause ? `: ${cause}` : ''}. It can be resumed from its checkpoint.`,
        };
  const { run: closed, changed } = await runs.closeExecution(runId, result, detail.executionArn);
  if (!changed) return { runId, closed: false, reason: `run is ${closed?.status ?? 'gone'}` };
  await runs.appendEvent(
    runId,
    trace.runFinished({
      step: run.step,
      status: result.status,
      stopReason: result.stopReason,
      execution: { arn: detail.executionArn, status: detail.status },
      error: { Error: error, Cause: cause },
      usage: { inputTokens: run.tokensIn, outputTokens: run.tokensOut },
    }),
  );
  return { runId, closed: true, reason: `${detail.status} → ${result.status}/${result.stopReason}` };
}
