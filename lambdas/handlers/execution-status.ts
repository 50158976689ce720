import { createRunControl } from '../core/control';
import { closeRunOnExecutionStatus, type ExecutionStatusChangeEvent, runIdOf } from '../core/execution-status';
import { advanceThread } from '../core/threads';
import { baseRuntimeFromEnv } from '../runtime/base';
import { lambdaEntry, wrap } from '../runtime/wrap';
import { sfnExecutions } from '../store/sfn-executions';

/**
 * EventBridge "Step Functions Execution Status Change" of this state machine → a run whose execution FAILED, TIMED_OUT
 * or was ABORTED is closed as FAILED or CANCELLED, conditionally; and, for every execution that ended (SUCCEEDED
 * too), the next queued run of its thread starts (docs/threads.md). Offline, the engine publishes the same event to
 * this handler.
 */
export const createHandler = wrap(async (rt, event: ExecutionStatusChangeEvent) => {
  const outcome = await closeRunOnExecutionStatus(rt.runs, event);
  const runId = event.detail ? runIdOf(event.detail) : undefined;
  const run = runId ? await rt.runs.getRun(runId) : undefined;
  let thread: { started?: string } = {};
  if (run?.threadId) {
    const stateMachineArn = rt.aws?.stateMachineArn ?? process.env.STATE_MACHINE_ARN;
    if (!stateMachineArn) throw new Error('Environment variable STATE_MACHINE_ARN is missing');
    const control = createRunControl({ runs: rt.runs, executions: sfnExecutions(stateMachineArn, rt.aws?.sfn) });
    thread = await advanceThread({ runs: rt.runs, threads: rt.threads, control, budgets: rt.config.budgets }, run);
  }
  rt.logger.info('execution status change', { executionArn: event.detail?.executionArn, status: event.detail?.status, ...outcome, ...thread });
  return { ...outcome, ...thread };
});
export const handler = lambdaEntry(createHandler, baseRuntimeFromEnv);
