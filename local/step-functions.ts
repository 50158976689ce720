import { randomUUID } from 'node:crypto';
import { StateMachine } from 'aws-local-stepfunctions';
import { runIdOf } from '../lambdas/core/execution-status';
import type { ExecutionArchive } from './execution-archive';
import { allStates, type EventLog, isLongTimeout, type LocalExecution, withoutLongTimeouts } from './executions';
import { type ExpressMachine, type ExpressRecord, expressMachineOf, type SyncDeps, startExecutionSync } from './express';
import type { LocalIam } from './iam/check';
import type { Handler, LambdaInvoker } from './lambda-invoker';
import { taskFunction } from './lambda-qualifiers';
import {
  DEFAULT_HISTORY_LIMIT,
  dataLimitError,
  executionInputError,
  HistoryCounter,
  historyLimitError,
  isExecutionEnd,
  MAX_PAYLOAD_BYTES,
  namesDataLimit,
  payloadBytes,
} from './limits';
import { SfnError } from './sfn-error';
import { checkExecutionName } from './sfn-validation';
import { newTaskToken, TaskTokens } from './task-tokens';
import {
  type CfnTemplate,
  definitionOf,
  expressMachinesOf,
  functionsOf,
  LOCAL_ACCOUNT,
  LOCAL_REGION,
  type LocalFunction,
  lambdaVersionsOf,
  stateMachineOf,
  validateDefinitionOnce,
} from './template';
import { type LongTimer, longTimeout, type Timers } from './timers';
import { type Revision, revisionId, type VersionRegistry } from './versions';

/** A template's definition and the handlers of the functions it names (`handlerOf` deploys each). */
export function revisionOf(template: CfnTemplate, handlerOf: (fn: LocalFunction) => Handler | undefined): Revision {
  const definition = definitionOf(template);
  const functions = new Map([...functionsOf(template), ...lambdaVersionsOf(template)].map((f) => [f.arn, f]));
  const handlers = new Map<string, Handler>();
  for (const f of functions.values()) {
    const handler = handlerOf(f);
    if (handler) handlers.set(f.arn, handler);
  }
  validateDefinitionOnce(definition);
  const machine = new StateMachine(withoutLongTimeouts(definition) as never, { validationOptions: { noValidate: true } });
  const children = new Map<string, ExpressMachine>();
  for (const spec of expressMachinesOf(template)) {
    validateDefinitionOnce(spec.definition);
    const child = expressMachineOf(spec);
    for (const arn of [spec.arn, ...spec.versionArns]) children.set(arn, child);
  }
  return { id: revisionId(definition), definition, machine, functions, handlers, ...(children.size ? { children } : {}) };
}

export interface StepFunctionsOptions {
  /** Revisions, versions and aliases of the state machine. */
  versions: VersionRegistry;
  /** Invokes the Lambda functions of Task states. */
  invoker: LambdaInvoker;
  /** IAM offline: the roles the local Step Functions API checks requests against. */
  iam: LocalIam;
  /** Publishes an execution's status change (on the local EventBridge bus). */
  publishStatus: (execution: LocalExecution) => Promise<void>;
  /** Every engine event (state entered, retried, caught...) of every execution. */
  onStateEvent?: (runId: string, event: EventLog) => void;
  /** An execution has started; `onEnd` is called when it has ended (before `done` settles). */
  onStart?: (execution: LocalExecution) => void;
  onEnd?: (execution: LocalExecution) => void;
  /** Retry sleeps: 1 = real; 0 = none; in between = each retrier's interval scaled, without backoff. @default 1 */
  retryScale?: number;
  /** Events per execution (local/limits.ts HistoryCounter). @default 25,000 (AWS's hard quota) */
  historyLimit?: number;
  /** Where closed executions are kept across restarts (the data dir); none: this process's only. */
  archive?: ExecutionArchive;
  /** The timers of waits longer than the interpreter's hold (task tokens, long TimeoutSeconds). @default real ones */
  timers?: Timers;
  /** Fault knob: re-run an Express child (`.sync` task) with the same input once it has ended. */
  rerunSegment?: (info: { parentArn: string; index: number }) => boolean;
  /** Fault knob: run an Express child twice at once, or report it timed out after it ran (EngineKnobs.segmentFault). */
  segmentFault?: SyncDeps['fault'];
}

/**
 * The local Step Functions service: executions of the synthesized state machine, unchanged, run by
 * aws-local-stepfunctions (every Lambda Task routed to its handler in-process by the function the definition
 * names), with Step Functions' limits (payload size, history quota), task tokens, and status changes published.
 */
export class LocalStepFunctions {
  readonly stateMachineArn: string;
  readonly stateMachineName: string;
  readonly createdAt = new Date();
  /** Every execution of this engine process, by ARN. */
  readonly executions = new Map<string, LocalExecution>();
  readonly versions: VersionRegistry;
  readonly iam: LocalIam;
  /** The Express executions the `.sync` tasks started (requests and durations, as Express bills them). */
  readonly expressExecutions: ExpressRecord[] = [];
  private readonly tokens: TaskTokens;
  private closing = false;

  constructor(
    template: CfnTemplate,
    private readonly options: StepFunctionsOptions,
  ) {
    ({ arn: this.stateMachineArn, name: this.stateMachineName } = stateMachineOf(template));
    this.versions = options.versions;
    this.iam = options.iam;
    this.tokens = new TaskTokens(options.timers);
    // Closed executions of earlier processes (Step Functions keeps them 90 days): described and listed, not re-run.
    for (const e of options.archive?.load(this.versions.latest) ?? []) this.executions.set(e.executionArn, e);
  }

  /** The prefix of this machine's execution ARNs (the name follows). */
  get executionArnPrefix(): string {
    return `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:execution:${this.stateMachineName}:`;
  }

  /** `base`, or the first of `base-x1`, `base-x2`... that no execution has. */
  freeName(base: string): string {
    for (let i = 0; i < 10_000; i++) {
      const name = i === 0 ? base : `${base}-x${i}`;
      if (!this.executions.has(`${this.executionArnPrefix}${name}`)) return name;
    }
    return `${base}-${randomUUID()}`;
  }

  /**
   * StartExecution on the machine (its latest revision), one of its versions or an alias (a version picked by the
   * alias's weights). The same name with the same input while it runs returns that execution, as AWS does.
   */
  startExecution(input: { name?: string; input?: string; stateMachineArn?: string }): LocalExecution {
    // The request's constraints are checked before the state machine is looked up (as AWS answers).
    const tooLarge = executionInputError(input.input ?? '{}');
    if (tooLarge) throw new SfnError(tooLarge.name, tooLarge.message);
    const target = this.versions.resolve(input.stateMachineArn ?? this.stateMachineArn);
    const name = input.name ?? randomUUID();
    checkExecutionName(name);
    const text = input.input ?? '{}';
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new SfnError('InvalidExecutionInput', 'the execution input must be JSON');
    }
    const executionArn = `${this.executionArnPrefix}${name}`;
    const existing = this.executions.get(executionArn);
    if (existing) {
      if (existing.status === 'RUNNING' && existing.input === text) return existing;
      throw new SfnError('ExecutionAlreadyExists', `execution ${executionArn} already exists`);
    }
    const execution: LocalExecution = {
      executionArn,
      stateMachineArn: this.stateMachineArn,
      name,
      input: text,
      status: 'RUNNING',
      startDate: new Date(),
      events: [],
      history: [],
      taskCalls: new Map(),
      historyEventCount: 0,
      done: Promise.resolve(),
      revision: target.revision,
      ...(target.stateMachineVersionArn ? { stateMachineVersionArn: target.stateMachineVersionArn } : {}),
      ...(target.stateMachineAliasArn ? { stateMachineAliasArn: target.stateMachineAliasArn } : {}),
    };
    this.executions.set(executionArn, execution);
    this.options.onStart?.(execution);
    execution.done = this.runExecution(execution, parsed).finally(() => this.options.onEnd?.(execution));
    return execution;
  }

  /** StopExecution: the execution is ABORTED at once; its status change is published as in AWS. */
  stopExecution(executionArn: string, error?: string, cause?: string): LocalExecution {
    const execution = this.describeExecution(executionArn);
    if (execution.status !== 'RUNNING') return execution;
    execution.status = 'ABORTED';
    execution.stopDate = new Date();
    execution.error = error;
    execution.cause = cause;
    execution.abort?.();
    // A `.sync` child is stopped with its parent (what the parent's states:StopExecution grant is for).
    for (const abort of (execution as ChildAware).childAborts ?? []) abort();
    return execution;
  }

  /** DescribeExecution. */
  describeExecution(executionArn: string): LocalExecution {
    const execution = this.executions.get(executionArn);
    if (!execution) throw new SfnError('ExecutionDoesNotExist', `execution ${executionArn} does not exist`);
    return execution;
  }

  /** SendTaskSuccess. */
  sendTaskSuccess(token: string, output: string): void {
    this.tokens.succeed(token, output);
  }

  /** SendTaskFailure: the state sees {Error: error, Cause: cause}, as in AWS. */
  sendTaskFailure(token: string, error?: string, cause?: string): void {
    this.tokens.fail(token, error, cause);
  }

  /** SendTaskHeartbeat. */
  sendTaskHeartbeat(token: string): void {
    this.tokens.heartbeat(token);
  }

  /**
   * Drops the executions in flight (their runs stay as the table has them and resume from the checkpoint at the
   * next start); nothing is published for them.
   */
  async close(): Promise<void> {
    const live = [...this.executions.values()].filter((e) => e.status === 'RUNNING');
    this.closing = true;
    for (const e of live) {
      e.abort?.();
      for (const abort of (e as ChildAware).childAborts ?? []) abort();
    }
    this.tokens.clear();
    await Promise.allSettled(live.map((e) => e.done));
  }

  private async runExecution(execution: LocalExecution, input: unknown): Promise<void> {
    const placeholder = `${execution.executionArn}#task`;
    const run = execution.revision.machine.run(input as never, {
      overrides: { taskResourceLocalHandlers: this.taskHandlers(execution, placeholder), retryIntervalOverrides: this.retryOverrides(execution.revision.definition) },
      context: {
        Execution: { Id: execution.executionArn, Name: execution.name, Input: input, StartTime: execution.startDate.toISOString() },
        StateMachine: { Id: this.stateMachineArn, Name: this.stateMachineName },
        Task: { Token: placeholder },
      } as never,
      noThrowOnAbort: true,
    });
    execution.abort = run.abort;
    // A machine TimeoutSeconds too long for the interpreter's timers is timed here (local/timers.ts).
    const machineTimeout = execution.revision.definition.TimeoutSeconds;
    const timeout = isLongTimeout(machineTimeout) ? longTimeout(() => this.timeOutExecution(execution), machineTimeout * 1000, this.options.timers) : undefined;
    const history = this.historyCounter(execution);
    const collecting = (async () => {
      for await (const event of run.eventLogs) {
        execution.events.push(event);
        this.countHistory(execution, history, event);
        this.checkStatePayloads(execution, event);
        this.options.onStateEvent?.(
          runIdOf({ executionArn: execution.executionArn, name: execution.name, status: execution.status, input: execution.input }) ?? execution.name,
          event,
        );
      }
    })();
    await this.options.publishStatus(execution);
    let dropped = false;
    try {
      const output = await run.result;
      // The last states' events are checked (payload limits) before the execution counts as succeeded.
      await collecting;
      if (execution.status === 'RUNNING' && output === null && this.closing) {
        execution.status = 'ABORTED';
        dropped = true;
      } else if (execution.status === 'RUNNING') {
        execution.status = 'SUCCEEDED';
        execution.output = JSON.stringify(output ?? null);
      }
    } catch (err) {
      const e = err as Error & { cause?: { name?: string; message?: string } };
      if (execution.status === 'RUNNING') {
        if (e.name === 'ExecutionTimeoutError') {
          execution.status = 'TIMED_OUT';
          execution.error = 'States.Timeout';
          execution.cause = "the execution ran past the state machine's TimeoutSeconds";
        } else {
          execution.status = 'FAILED';
          execution.error = e.cause?.name ?? e.name;
          execution.cause = e.cause?.message ?? e.message;
        }
      }
    }
    timeout?.clear();
    execution.stopDate ??= new Date();
    execution.abort = undefined;
    if (dropped) {
      // Dropped by close(): the process ends, as a crash would; nothing is published, the run stays as it is.
      await collecting;
      return;
    }
    this.tokens.retireExecution(execution.executionArn);
    await collecting;
    await this.options.publishStatus(execution);
    this.options.archive?.save(execution);
  }

  /** Every Task state → the handler of the function its Parameters name (Lambda tasks return {Payload}). */
  private taskHandlers(
    execution: LocalExecution,
    placeholder: string,
    definition = execution.revision.definition,
    principalArn?: string,
  ): Record<string, (input: unknown) => Promise<never>> {
    const out: Record<string, (input: unknown) => Promise<never>> = {};
    const { functions, handlers } = execution.revision;
    const invoker = this.options.invoker;
    const principal = principalArn ? this.iam.model.stateMachines.get(principalArn) : this.iam.model.stateMachine;
    let syncTasks = 0;
    for (const [name, state] of allStates(definition)) {
      if (state.Type !== 'Task') continue;
      if (/^arn:aws:states:::states:startExecution\.sync(:2)?$/.test(String(state.Resource))) {
        out[name] = async (input: unknown) => {
          const call = recordCall(execution, name, input);
          await new Promise((r) => setImmediate(r));
          if (execution.status !== 'RUNNING') throw Object.assign(new Error(`execution ${execution.status}`), { name: 'States.Runtime' });
          const result = limited(
            'task result',
            await startExecutionSync(this.syncDeps(execution, placeholder), execution, this.childrenOf(execution), limited('input', input) as never, ++syncTasks),
          );
          call.output = JSON.stringify(result);
          return result as never;
        };
        const limited = <T>(what: string, value: T): T => this.withinPayloadLimit(execution, state, `${what} of state ${name}`, value);
        continue;
      }
      const waitsForToken = String(state.Resource).endsWith('.waitForTaskToken');
      const timeoutMs = Number(state.TimeoutSeconds ?? 60) * 1000;
      const limited = <T>(what: string, value: T): T => this.withinPayloadLimit(execution, state, `${what} of state ${name}`, value);
      out[name] = async (input: unknown) => {
        const call = recordCall(execution, name, input);
        // The interpreter's log is read asynchronously: let it catch up, so that a task whose TaskScheduled event
        // would pass the history quota is never invoked (the execution has failed by then), as in AWS.
        await new Promise((r) => setImmediate(r));
        if (execution.status !== 'RUNNING') throw Object.assign(new Error(`execution ${execution.status}`), { name: 'States.Runtime' });
        const { FunctionName, Payload } = limited('input', input) as { FunctionName: string; Payload: Record<string, unknown> };
        invoker.authorizeStateMachine(FunctionName, principal);
        const fn = taskFunction(functions, FunctionName);
        const handler = taskFunction(handlers, fn.arn);
        if (!waitsForToken) {
          const result = limited('task result', await withinLongTimeout(invoker.invoke(fn, handler, Payload), state.TimeoutSeconds, this.options.timers));
          call.output = JSON.stringify(result);
          return result as never;
        }
        // .waitForTaskToken: a token of this attempt only; the execution waits until SendTask* completes it, and
        // once the attempt is over (timed out, execution closed) the token is stale.
        const token = newTaskToken();
        const output = this.tokens.wait(token, execution.executionArn, timeoutMs);
        try {
          call.submitted = JSON.stringify(await invoker.invoke(fn, handler, replaceString(Payload, placeholder, token)));
          const result = limited('task result', await output);
          call.output = JSON.stringify(result);
          return result as never;
        } finally {
          if (this.tokens.has(token)) this.tokens.retire(token);
        }
      };
    }
    return out;
  }

  /**
   * The 256 KB payload limit, as Step Functions enforces it: a larger value raises States.DataLimitExceeded, which
   * only a Catch or Retry naming it handles; otherwise (States.ALL does not match it) the execution fails at once.
   */
  private withinPayloadLimit<T>(execution: LocalExecution, state: Record<string, unknown>, what: string, value: T): T {
    const bytes = payloadBytes(value);
    if (bytes <= MAX_PAYLOAD_BYTES) return value;
    const err = dataLimitError(what, bytes);
    if (!namesDataLimit(state)) this.failTerminally(execution, err);
    throw err;
  }

  /** Counts an execution's history as Step Functions does (states by name, nested Map states included). */
  private historyCounter(execution: LocalExecution): HistoryCounter {
    const states = new Map(allStates(execution.revision.definition));
    return new HistoryCounter((name) => states.get(name));
  }

  /**
   * The history quota, as Step Functions enforces it: the execution may write 24,999 events (at the default
   * 25,000); when the next one is not ExecutionSucceeded, ExecutionFailed (States.Runtime) is the last event and
   * the execution fails at once, whatever the state's Catch says. Events after the failure are not counted.
   */
  private countHistory(execution: LocalExecution, history: HistoryCounter, event: EventLog): void {
    const limit = this.options.historyLimit ?? DEFAULT_HISTORY_LIMIT;
    const written = execution.history;
    if (written.length >= limit) return;
    const drafts = history.draftsOf(event as never);
    // An execution the service itself failed (the history quota, a payload past 256 KB) ends FAILED, not ABORTED.
    if (event.type === 'ExecutionAborted' && execution.status === 'FAILED') for (const d of drafts) d.type = 'ExecutionFailed';
    if (event.type === 'ExecutionAborted' && execution.status === 'TIMED_OUT') for (const d of drafts) d.type = 'ExecutionTimedOut';
    if (isExecutionEnd(event) || written.length + drafts.length < limit) {
      written.push(...drafts);
      execution.historyEventCount = written.length;
      return;
    }
    // Events up to number limit - 1 are written; number `limit` is ExecutionFailed.
    written.push(...drafts.slice(0, limit - 1 - written.length), { type: 'ExecutionFailed', timestamp: event.timestamp });
    execution.historyEventCount = written.length;
    this.failTerminally(execution, historyLimitError(limit));
  }

  /** A state's input and output past 256 KB (as the interpreter reports them) fail the execution (terminal). */
  private checkStatePayloads(execution: LocalExecution, event: EventLog): void {
    if (event.type !== 'StateEntered' && event.type !== 'StateExited') return;
    const state = (event as { state?: { name?: string; input?: unknown; output?: unknown } }).state;
    if (!state) return;
    const [what, value] = event.type === 'StateEntered' ? ['input', state.input] : ['output', state.output];
    const bytes = payloadBytes(value);
    if (bytes > MAX_PAYLOAD_BYTES) this.failTerminally(execution, dataLimitError(`${what} of state ${state.name}`, bytes));
  }

  /** The machine's TimeoutSeconds passed: the execution ends TIMED_OUT (States.Timeout), as in Step Functions. */
  private timeOutExecution(execution: LocalExecution): void {
    if (execution.status !== 'RUNNING') return;
    execution.status = 'TIMED_OUT';
    execution.error = 'States.Timeout';
    execution.cause = "the execution ran past the state machine's TimeoutSeconds";
    execution.stopDate = new Date();
    execution.abort?.();
  }

  /** Ends the execution FAILED with the error, as Step Functions does with an error no state may catch. */
  private failTerminally(execution: LocalExecution, err: Error): void {
    if (execution.status !== 'RUNNING') return;
    execution.status = 'FAILED';
    execution.error = err.name;
    execution.cause = err.message;
    execution.stopDate = new Date();
    execution.abort?.();
  }

  /**
   * The children a `.sync` task of `execution` may start: a version ARN runs that version's definition, forever; the
   * unqualified ARN runs the child's latest definition (the last deploy's), as in AWS.
   */
  private childrenOf(execution: LocalExecution): Map<string, ExpressMachine> {
    const latest = this.versions.latest.children;
    return new Map([...(execution.revision.children ?? [])].map(([arn, child]) => [arn, arn === child.arn ? (latest?.get(arn) ?? child) : child]));
  }

  /** What a `.sync` task of `execution` needs to run its Express child (local/express.ts). */
  private syncDeps(execution: LocalExecution, placeholder: string) {
    const runId = runIdOf({ executionArn: execution.executionArn, name: execution.name, status: execution.status, input: execution.input }) ?? execution.name;
    return {
      iam: this.iam,
      taskHandlers: (definition: Record<string, unknown>, principalArn: string) => this.taskHandlers(execution, placeholder, definition, principalArn),
      retryOverrides: (definition: Record<string, unknown>) => this.retryOverrides(definition),
      onEvent: (event: EventLog) => this.options.onStateEvent?.(runId, event),
      rerun: this.options.rerunSegment,
      fault: this.options.segmentFault,
      records: this.expressExecutions,
    };
  }

  private retryOverrides(definition: Record<string, unknown>): Record<string, number> | undefined {
    const scale = this.options.retryScale ?? 1;
    if (scale >= 1) return undefined;
    const out: Record<string, number> = {};
    for (const [name, state] of allStates(definition)) {
      const retry = state.Retry as { IntervalSeconds?: number }[] | undefined;
      if (retry?.length) out[name] = Math.round((retry[0]?.IntervalSeconds ?? 1) * 1000 * scale);
    }
    return out;
  }
}

/** A task's TimeoutSeconds too long for the interpreter's timers, timed here: past it the task fails States.Timeout. */
async function withinLongTimeout<T>(work: Promise<T>, timeoutSeconds: unknown, timers?: Timers): Promise<T> {
  if (!isLongTimeout(timeoutSeconds)) return work;
  let timer: LongTimer | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = longTimeout(() => reject(Object.assign(new Error('the task timed out (its TimeoutSeconds passed)'), { name: 'States.Timeout' })), timeoutSeconds * 1000, timers);
  });
  try {
    return await Promise.race([work, timedOut]);
  } finally {
    timer?.clear();
  }
}
/** An execution with the abort functions of the `.sync` children it is waiting for (local/express.ts). */
type ChildAware = LocalExecution & { childAborts?: Set<() => void> };

/** A Task attempt's parameters (and, once known, its result), for the history's Task events (in attempt order). */
function recordCall(execution: LocalExecution, state: string, input: unknown): { parameters: string; submitted?: string; output?: string } {
  const call = { parameters: JSON.stringify(input ?? null) };
  execution.taskCalls.set(state, [...(execution.taskCalls.get(state) ?? []), call]);
  return call;
}

/** Replaces every string equal to `from` in a JSON value. */
function replaceString(value: unknown, from: string, to: string): unknown {
  if (value === from) return to;
  if (Array.isArray(value)) return value.map((v) => replaceString(v, from, to));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, replaceString(v, from, to)]));
  return value;
}
