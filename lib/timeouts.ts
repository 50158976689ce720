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
