import { SfnError } from './sfn-error';

/** How long a token stays known as stale after its attempt ended (then it is simply unknown). */
const STALE_TOKENS_KEPT = 10_000;

interface Waiter {
  executionArn: string;
  resolve: (output: unknown) => void;
  reject: (err: Error) => void;
  /** Retires the token when the attempt times out (the state's TimeoutSeconds). */
  timer?: NodeJS.Timeout;
}

/**
 * Task tokens of the attempts waiting in a .waitForTaskToken state, as Step Functions answers SendTaskSuccess,
 * SendTaskFailure and SendTaskHeartbeat: a live token completes its attempt once; a token whose attempt has ended
 * (timed out, failed over, execution closed) is answered with TaskTimedOut; any other with TaskDoesNotExist.
 */
export class TaskTokens {
  private readonly waiting = new Map<string, Waiter>();
  private readonly stale = new Set<string>();

  /**
   * Registers a waiting attempt's token; the promise settles when SendTask* completes it. After `timeoutMs` (when
   * given) the attempt is over and the token stale.
   */
  wait(token: string, executionArn: string, timeoutMs?: number): Promise<unknown> {
    return new Promise<unknown>((resolve, reject) => {
      const timer = timeoutMs === undefined ? undefined : setTimeout(() => this.retire(token), timeoutMs);
      this.waiting.set(token, { executionArn, resolve, reject, timer });
    });
  }

  has(token: string): boolean {
    return this.waiting.has(token);
  }

  /** Completes a waiting task (SendTaskSuccess). */
  succeed(token: string, output: string): void {
    let value: unknown;
    try {
      value = JSON.parse(output);
    } catch {
      throw new SfnError('InvalidOutput', 'the task output must be JSON');
    }
    this.take(token).resolve(value);
  }

  /** Fails a waiting task (SendTaskFailure): the state sees {Error: error, Cause: cause}, as in AWS. */
  fail(token: string, error?: string, cause?: string): void {
    this.take(token).reject(Object.assign(new Error(cause ?? ''), { name: error ?? 'States.TaskFailed' }));
  }

  /** SendTaskHeartbeat: the task is still waited for (the machine declares no HeartbeatSeconds). */
  heartbeat(token: string): void {
    this.peek(token);
  }

  /** The attempt is over: its token is stale from now on. */
  retire(token: string): void {
    clearTimeout(this.waiting.get(token)?.timer);
    this.waiting.delete(token);
    this.stale.add(token);
    if (this.stale.size > STALE_TOKENS_KEPT) this.stale.delete(this.stale.values().next().value as string);
  }

  /** Every token of the execution is retired (it has ended). */
  retireExecution(executionArn: string): void {
    for (const [token, waiter] of this.waiting) if (waiter.executionArn === executionArn) this.retire(token);
  }

  /** Forgets the waiting attempts and their timers (the engine closes; their executions are dropped). */
  clear(): void {
    for (const waiter of this.waiting.values()) clearTimeout(waiter.timer);
    this.waiting.clear();
  }

  private peek(token: string): Waiter {
    const waiter = this.waiting.get(token);
    if (waiter) return waiter;
    if (this.stale.has(token)) throw new SfnError('TaskTimedOut', 'the task of this token is no longer waiting (timed out, failed or closed)');
    throw new SfnError('TaskDoesNotExist', `no task waits for token ${token.slice(0, 12)}…`);
  }

  private take(token: string): Waiter {
    const waiter = this.peek(token);
    this.retire(token);
    return waiter;
  }
}
