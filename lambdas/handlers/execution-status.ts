import { closeRunOnExecutionStatus, type ExecutionStatusChangeEvent } from '../core/execution-status';
import { baseRuntimeFromEnv } from '../runtime/base';
import { lambdaEntry, wrap } from '../runtime/wrap';

/**
 * EventBridge "Step Functions Execution Status Change" (FAILED, TIMED_OUT, ABORTED of this state machine) → the
 * run is closed as FAILED or CANCELLED, conditionally. Offline, the engine publishes the same event to this handler.
 */
export const createHandler = wrap(async (rt, event: ExecutionStatusChangeEvent) => {
  const outcome = await closeRunOnExecutionStatus(rt.runs, event);
  rt.logger.info('execution status change', { executionArn: event.detail?.executionArn, status: event.detail?.status, ...outcome });
  return outcome;
});
export const handler = lambdaEntry(createHandler, baseRuntimeFromEnv);
