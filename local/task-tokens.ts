import { randomBytes } from 'node:crypto';
import { SfnError } from './sfn-error';
import { type LongTimer, longTimeout, realTimers, type Timers } from './timers';

/** A new task token (the engine's format: 64 hex characters; AWS's are opaque strings of up to 2048 characters). */
export function newTaskToken(): string {
  return randomBytes(32).toString('hex');
}

/** Whether a string could be a token this engine issued (else SendTask* answers InvalidToken, as AWS does). */
export function isWellFormedToken(token: string): boolean {
  return /^[0-9a-f]{64}$/.test(token);
}

/** How long a token stays known as stale after its attempt ended (then it is simply unknown). */
const STALE_TOKENS_KEPT = 10_000;

interface Waiter {
  executionArn: string;
  resolve: (output: unknown) => void;
  reject: (err: Error) => void;
  /** Times the attempt out (the state's TimeoutSeconds, however long: local/timers.ts). */
  timer?: LongTimer;
}

/**
 * Task tokens of the attempts waiting in a .waitForTaskToken state, as Step Functions answers SendTaskSuccess,
 * SendTaskFailure and SendTaskHeartbeat: a live token completes its attempt once; a token whose attempt has ended
 * (timed out, failed over, execution closed) is answered with TaskTimedOut; a well-formed token no longer (or never)
 * known with TaskDoesNotExist; a string that is no token at all with InvalidToken (the API reference's errors of
 * SendTaskSuccess: "InvalidToken — The provided token is not valid").
 */
export class TaskTokens {
  private readonly waiting = new Map<string, Waiter>();
  private readonly stale = new Set<string>();

  constructor(private readonly timers: Timers = realTimers) {}

  /**
   * Registers a waiting attempt's token; the promise settles when SendTask* completes it. After `timeoutMs` (when
   * given) the attempt is over and the token stale.
   */
  wait(token: string, executionArn: string, timeoutMs?: number): Promise<unknown> {
    const waited = new Promise<unknown>((resolve, reject) => {
      // Past the timeout the attempt fails with States.Timeout (as the state's TimeoutSeconds fails it) and the token
      // is stale.
      const timer = timeoutMs === undefined ? undefined : longTimeout(() => this.timeOut(token), timeoutMs, this.timers);
      this.waiting.set(token, { executionArn, resolve, reject, timer });
    });
    // Handled here too: a timeout may come before the task awaits it (the attempt is over either way).
    waited.catch(() => undefined);
    return waited;
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

  /** The attempt timed out: it fails with States.Timeout, and its token is stale. */
  private timeOut(token: string): void {
    const waiter = this.waiting.get(token);
    this.retire(token);
    waiter?.reject(Object.assign(new Error('the task timed out (its TimeoutSeconds passed)'), { name: 'States.Timeout' }));
  }

  /** The attempt is over: its token is stale from now on. */
  retire(token: string): void {
    this.waiting.get(token)?.timer?.clear();
    this.waiting.delete(token);
    this.stale.add(token);
    if (this.stale.size > STALE_TOKENS_KEPT) this.stale.delete(this.stale.values().next().value as string);
  }

  /**
   * Every token of the execution is retired (it has ended). Its waiting attempts are settled, so the interpreter's
   * task state ends too and clears its own TimeoutSeconds timer (a stopped or dropped execution would otherwise keep
   * one for as long as the task could wait: a paused run's seven days).
   */
  retireExecution(executionArn: string): void {
    for (const [token, waiter] of this.waiting) {
      if (waiter.executionArn !== executionArn) continue;
      this.retire(token);
      waiter.reject(ended());
    }
  }

  /** Forgets the waiting attempts and their timers (the engine closes; their executions are dropped), settling them. */
  clear(): void {
    const waiters = [...this.waiting.values()];
    this.waiting.clear();
    for (const waiter of waiters) {
      waiter.timer?.clear();
      waiter.reject(ended());
    }
  }

  private peek(token: string): Waiter {
    const waiter = this.waiting.get(token);
    if (waiter) return waiter;
    if (this.stale.has(token)) throw new SfnError('TaskTimedOut', 'the task of this token is no longer waiting (timed out, failed or closed)');
    if (!isWellFormedToken(token))
      throw new SfnError('InvalidToken', `Invalid Token: '${token.slice(0, 24)}' (the provided token is not valid: not a task token this engine issued)`);
    throw new SfnError('TaskDoesNotExist', `no task waits for token ${token.slice(0, 12)}…`);
  }

  private take(token: string): Waiter {
    const waiter = this.peek(token);
    this.retire(token);
    return waiter;
  }
}

/** What a waiting attempt of an execution that is gone settles with (nobody reads it: the execution is over). */
const ended = (): Error => Object.assign(new Error('the execution ended while this task waited'), { name: 'States.Aborted' });
