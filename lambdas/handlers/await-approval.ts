import { type AwaitApprovalInput, approvalPolicy, awaitApproval } from '../core/approvals';
import { baseRuntimeFromEnv } from '../runtime/base';
import { lambdaEntry, wrap } from '../runtime/wrap';

/**
 * AwaitApproval (.waitForTaskToken): records the step's approval-required calls and the token on the run
 * (AWAITING_APPROVAL); the execution waits until the last decision sends the token back, or the task times out.
 */
export const createHandler = wrap((rt, event: AwaitApprovalInput) =>
  awaitApproval({ runs: rt.runs, policy: rt.approvals ?? approvalPolicy([], rt.config.approvalTimeoutSeconds) }, event),
);
export const handler = lambdaEntry(createHandler, baseRuntimeFromEnv);
