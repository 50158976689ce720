/**
 * The timeout chain: client timeout < Lambda timeout < Task TimeoutSeconds. Every call is bounded by its client
 * timeout; the Lambda outlives it by enough to record the failure; the Task outlives the Lambda so that a hung
 * invocation surfaces as States.Timeout instead of waiting forever.
 */
export interface TimeoutChain {
  clientTimeoutMs: number;
  lambdaTimeoutSeconds: number;
  taskTimeoutSeconds: number;
}

/** Seconds a handler needs around the call for its DynamoDB reads and writes. */
export const HANDLER_MARGIN_SECONDS = 10;
/** Seconds the Task waits beyond the Lambda timeout. */
export const TASK_MARGIN_SECONDS = 5;
/** Lambda's hard limit. */
export const LAMBDA_MAX_SECONDS = 900;

/** Derives the chain from a client timeout. */
export function deriveTimeoutChain(clientTimeoutMs: number): TimeoutChain {
  const lambdaTimeoutSeconds = Math.ceil(clientTimeoutMs / 1000) + HANDLER_MARGIN_SECONDS;
  return { clientTimeoutMs, lambdaTimeoutSeconds, taskTimeoutSeconds: lambdaTimeoutSeconds + TASK_MARGIN_SECONDS };
}

/** Throws when the chain is broken, naming the three values. */
export function assertTimeoutChain(name: string, chain: TimeoutChain): TimeoutChain {
  const { clientTimeoutMs, lambdaTimeoutSeconds, taskTimeoutSeconds } = chain;
  if (!(clientTimeoutMs < lambdaTimeoutSeconds * 1000 && lambdaTimeoutSeconds < taskTimeoutSeconds && lambdaTimeoutSeconds <= LAMBDA_MAX_SECONDS)) {
    throw new Error(
      `${name}: the timeout chain must hold client timeout < Lambda timeout < Task TimeoutSeconds (and Lambda ≤ ${LAMBDA_MAX_SECONDS} s); got client ${clientTimeoutMs} ms, Lambda ${lambdaTimeoutSeconds} s, Task ${taskTimeoutSeconds} s`,
    );
  }
  return chain;
}

/** Step Functions Standard: an execution runs at most one year. */
export const EXECUTION_MAX_SECONDS = 365 * 24 * 3600;
/** Seconds the machine timeout keeps beyond the computed worst case. */
export const EXECUTION_MARGIN_SECONDS = 3600;

export interface ExecutionTimeoutInput {
  maxSteps: number;
  /** Task TimeoutSeconds of a model call, a tool call and a bookkeeping task (LoadRun, finalize, Pause's Lambda). */
  modelTaskSeconds: number;
  toolTaskSeconds: number;
  bookkeepingTaskSeconds: number;
  /** Attempts per call, the first included, and the longest sleep between two. */
  maxAttempts: number;
  maxDelaySeconds: number;
  hasFallbackModel: boolean;
  maxToolCallsPerStep: number;
  toolConcurrency: number;
  /** The longest wait the machine contains (the Pause task's timeout). */
  longestWaitSeconds: number;
  /**
   * The AwaitApproval task's timeout when some tool needs approval: every step may wait for a decision up to it
   * (a decision just before expiry lets the run go on), so the worst case counts it once per step.
   */
  approvalTimeoutSeconds?: number;
}

/**
 * The longest an execution can take without a fault: LoadRun, then every step with every attempt timing out but
 * the last (model, fallback model, each batch of tool calls and its failure record), the longest wait once, and the
 * finalizer. The machine's timeout must be above it, or an execution dies before its own guardrails can fire.
 */
export function worstCaseExecutionSeconds(i: ExecutionTimeoutInput): number {
  const call = (taskSeconds: number) => i.maxAttempts * taskSeconds + (i.maxAttempts - 1) * i.maxDelaySeconds;
  const model = call(i.modelTaskSeconds) * (i.hasFallbackModel ? 2 : 1);
  const batches = Math.ceil(i.maxToolCallsPerStep / Math.max(1, i.toolConcurrency));
  const tools = batches * 2 * call(i.toolTaskSeconds);
  const approvals = i.approvalTimeoutSeconds ? i.maxSteps * (i.approvalTimeoutSeconds + call(i.bookkeepingTaskSeconds)) : 0;
  return call(i.bookkeepingTaskSeconds) * 2 + i.maxSteps * (model + tools) + i.longestWaitSeconds + approvals + call(i.bookkeepingTaskSeconds);
}

/** The machine timeout for a worst case: the worst case plus a margin, refused past the one-year limit. */
export function deriveExecutionTimeout(i: ExecutionTimeoutInput): number {
  const worst = worstCaseExecutionSeconds(i);
  return assertExecutionTimeout(worst + EXECUTION_MARGIN_SECONDS, i);
}

/** Throws unless the machine timeout is above the worst case (longest wait included) and within one year. */
export function assertExecutionTimeout(timeoutSeconds: number, i: ExecutionTimeoutInput): number {
  const worst = worstCaseExecutionSeconds(i);
  if (!(timeoutSeconds > worst && timeoutSeconds <= EXECUTION_MAX_SECONDS)) {
    throw new Error(
      `state machine timeout ${timeoutSeconds} s must be above the worst case ${worst} s (the longest wait ${i.longestWaitSeconds} s plus ${i.maxSteps} steps of retried model and tool calls${i.approvalTimeoutSeconds ? `, each waiting up to approvalTimeoutSeconds ${i.approvalTimeoutSeconds} s for a decision` : ''}) and at most ${EXECUTION_MAX_SECONDS} s (Step Functions' one-year limit): lower budgets.maxSteps, retry.maxAttempts${i.approvalTimeoutSeconds ? ', approvalTimeoutSeconds' : ''} or the timeouts`,
    );
  }
  return timeoutSeconds;
}

/** Throws unless an approval can expire before the machine does (APPROVAL_EXPIRED must be able to fire). */
export function assertApprovalTimeout(approvalTimeoutSeconds: number, executionTimeoutSeconds: number): number {
  if (!(approvalTimeoutSeconds > 0 && approvalTimeoutSeconds < executionTimeoutSeconds)) {
    throw new Error(`approvalTimeoutSeconds (${approvalTimeoutSeconds} s) must be above 0 and below the state machine timeout (${executionTimeoutSeconds} s)`);
  }
  return approvalTimeoutSeconds;
}
