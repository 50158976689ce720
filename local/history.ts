/**
 * An execution's history as Step Functions writes it (GetExecutionHistory's event types, API reference
 * "HistoryEvent"), drafted from the interpreter's log (aws-local-stepfunctions logs fewer events: a state's entry
 * and exit, its failures, retries and catches, and Map iterations). One list serves both the history quota (its
 * length is what the quota counts, local/limits.ts) and the API (local/sfn-api.ts lists it), so they cannot disagree.
 *
 * Per interpreter event, the events AWS writes:
 * - ExecutionStarted, ExecutionSucceeded/Failed/Aborted/TimedOut: 1 each.
 * - a Task entered: TaskStateEntered, TaskScheduled, TaskStarted (+TaskSubmitted for `.waitForTaskToken`); a failed
 *   attempt: TaskFailed (TaskTimedOut for States.Timeout); a retry: the next attempt's TaskScheduled, TaskStarted
 *   (+TaskSubmitted) — AWS writes no event of its own for a retry or a catch; the Task exited: TaskSucceeded,
 *   TaskStateExited, or only TaskStateExited after a catch. A Task whose Resource is a Lambda function ARN (the
 *   legacy form) writes LambdaFunctionScheduled/Started/Succeeded/Failed/TimedOut instead.
 * - a Map or Parallel entered: …StateEntered, …StateStarted; exited: …StateSucceeded, …StateExited; failed:
 *   …StateFailed; a Map iteration started, succeeded or failed: MapIteration… (1 each); a Parallel branch: nothing.
 * - any other state (Choice, Pass, Wait, Succeed, Fail): …StateEntered, …StateExited.
 */

/** One event of the interpreter's log, as far as drafting needs it. */
export interface LoggedEvent {
  type: string;
  timestamp?: number;
  state?: { name?: string; type?: string; input?: unknown; output?: unknown };
  parentState?: { name?: string; type?: string };
  index?: number;
  Error?: string;
  Cause?: unknown;
}

/** A history event before its id: its type, time and details; a task event names its attempt (details filled later). */
export interface HistoryDraft {
  type: string;
  timestamp: number;
  details?: Record<string, unknown>;
  /** A Task's scheduled/started/submitted/succeeded event: the attempt's parameters and result are read when listed. */
  task?: { state: string; attempt: number; resourceType: string; resource: string };
}

/** What the task handlers record of each attempt of a Task state, in attempt order (parameters sent, result). */
export type TaskCalls = Map<string, { parameters: string; submitted?: string; output?: string }[]>;

const DETAILS: Record<string, string> = {
  TaskScheduled: 'taskScheduledEventDetails',
  TaskStarted: 'taskStartedEventDetails',
  TaskSubmitted: 'taskSubmittedEventDetails',
  TaskSucceeded: 'taskSucceededEventDetails',
  TaskFailed: 'taskFailedEventDetails',
  TaskTimedOut: 'taskTimedOutEventDetails',
  LambdaFunctionScheduled: 'lambdaFunctionScheduledEventDetails',
  LambdaFunctionSucceeded: 'lambdaFunctionSucceededEventDetails',
  LambdaFunctionFailed: 'lambdaFunctionFailedEventDetails',
  LambdaFunctionTimedOut: 'lambdaFunctionTimedOutEventDetails',
};

const text = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v ?? null));

/**
 * Drafts an execution's history from the interpreter's events, one at a time (a catch, retry or failure is matched
 * to its state by name and Map index). `stateOf(name)` gives a state's definition.
 */
export class HistoryCounter {
  /** History events drafted so far (AWS's count). */
  count = 0;
  private readonly caught = new Set<string>();
  private readonly attempts = new Map<string, number>();

  constructor(private readonly stateOf: (name: string) => Record<string, unknown> | undefined) {}

  /** The history events AWS writes for one interpreter event (execution events are drafted by the engine). */
  draftsOf(event: LoggedEvent): HistoryDraft[] {
    const timestamp = event.timestamp ?? Date.now();
    const draft = (type: string, details?: Record<string, unknown>): HistoryDraft => ({ type, timestamp, ...(details ? { details } : {}) });
    const type = event.state?.type;
    const name = event.state?.name ?? '';
    const key = `${name}#${event.index ?? ''}`;
    const nested = type === 'Map' || type === 'Parallel';
    switch (event.type) {
      case 'ExecutionStarted':
        return [draft('ExecutionStarted')];
      case 'ExecutionSucceeded':
        return [draft('ExecutionSucceeded')];
      case 'ExecutionFailed':
        return [draft('ExecutionFailed', { error: event.Error, cause: event.Cause === undefined ? undefined : text(event.Cause) })];
      case 'ExecutionAborted':
        return [draft('ExecutionAborted')];
      case 'ExecutionTimeout':
        return [draft('ExecutionTimedOut')];
      case 'MapIterationStarted':
      case 'MapIterationSucceeded':
      case 'MapIterationFailed':
        return [draft(event.type, { name: event.parentState?.name, index: event.index })];
      case 'StateEntered': {
        this.caught.delete(key);
        const entered = draft(`${type}StateEntered`, { name, input: text(event.state?.input), inputDetails: { truncated: false } });
        if (type === 'Task') return [entered, ...this.attempt(name, timestamp)];
        if (nested) return [entered, draft(`${type}StateStarted`, type === 'Map' ? { length: Array.isArray(event.state?.input) ? event.state.input.length : 0 } : undefined)];
        return [entered];
      }
      case 'StateFailed': {
        const details = { error: event.Error, cause: event.Cause === undefined ? undefined : text(event.Cause) };
        if (type === 'Task') {
          const { resourceType, resource, legacy } = this.resourceOf(name);
          const timedOut = event.Error === 'States.Timeout';
          const kind = legacy ? (timedOut ? 'LambdaFunctionTimedOut' : 'LambdaFunctionFailed') : timedOut ? 'TaskTimedOut' : 'TaskFailed';
          return [draft(kind, legacy ? details : { resourceType, resource, ...details })];
        }
        return nested ? [draft(`${type}StateFailed`)] : [];
      }
      case 'StateRetried':
        return type === 'Task' ? this.attempt(name, timestamp) : [];
      case 'StateCaught':
        this.caught.add(key);
        return [];
      case 'StateExited': {
        const exited = draft(`${type}StateExited`, { name, output: text(event.state?.output), outputDetails: { truncated: false } });
        if (this.caught.delete(key)) return [exited];
        if (type === 'Task') {
          const { resourceType, resource, legacy } = this.resourceOf(name);
          const attempt = (this.attempts.get(name) ?? 1) - 1;
          return [{ type: legacy ? 'LambdaFunctionSucceeded' : 'TaskSucceeded', timestamp, task: { state: name, attempt, resourceType, resource } }, exited];
        }
        if (nested) return [draft(`${type}StateSucceeded`), exited];
        return [exited];
      }
      default:
        return [];
    }
  }

  /** How many history events AWS writes for one interpreter event. */
  eventsOf(event: LoggedEvent): number {
    return this.draftsOf(event).length;
  }

  /** Counts one event. */
  add(event: LoggedEvent): number {
    this.count += this.eventsOf(event);
    return this.count;
  }

  /** One attempt of a Task: scheduled, started (and submitted, for a token task). */
  private attempt(name: string, timestamp: number): HistoryDraft[] {
    const attempt = this.attempts.get(name) ?? 0;
    this.attempts.set(name, attempt + 1);
    const { resourceType, resource, legacy, waits } = this.resourceOf(name);
    const task = { state: name, attempt, resourceType, resource };
    if (legacy)
      return [
        { type: 'LambdaFunctionScheduled', timestamp, task },
        { type: 'LambdaFunctionStarted', timestamp },
      ];
    return [{ type: 'TaskScheduled', timestamp, task }, { type: 'TaskStarted', timestamp, task }, ...(waits ? [{ type: 'TaskSubmitted', timestamp, task }] : [])];
  }

  /** `arn:aws:states:::lambda:invoke.waitForTaskToken` → resourceType `lambda`, resource `invoke.waitForTaskToken`. */
  private resourceOf(name: string): { resourceType: string; resource: string; legacy: boolean; waits: boolean } {
    const arn = String(this.stateOf(name)?.Resource ?? '');
    const [, , service = '', , , resourceType = '', ...resource] = arn.split(':');
    return { resourceType, resource: resource.join(':'), legacy: service === 'lambda', waits: arn.endsWith('.waitForTaskToken') };
  }
}

/** What the history's execution events read of their execution. */
export interface ExecutionRecord {
  input: string;
  status: string;
  output?: string;
  error?: string;
  cause?: string;
  stateMachineArn: string;
}

/**
 * The history as GetExecutionHistory lists it: ids from 1, each event's previousEventId the one before it (AWS
 * points at the causally previous event, which is the one before it on a path without parallel branches), time in
 * epoch milliseconds (the API sends seconds), details under the type's own member.
 */
export function historyEventsOf(drafts: HistoryDraft[], execution: ExecutionRecord, calls: TaskCalls): Record<string, unknown>[] {
  return drafts.map((d, i) => {
    const base = { id: i + 1, previousEventId: i, timestamp: d.timestamp / 1000, type: d.type };
    switch (d.type) {
      case 'ExecutionStarted':
        return {
          ...base,
          executionStartedEventDetails: {
            input: execution.input,
            inputDetails: { truncated: false },
            roleArn: `arn:aws:iam::${execution.stateMachineArn.split(':')[4]}:role/${execution.stateMachineArn.split(':')[6]}Role`,
          },
        };
      case 'ExecutionSucceeded':
        return { ...base, executionSucceededEventDetails: { output: execution.output ?? 'null', outputDetails: { truncated: false } } };
      case 'ExecutionFailed':
      case 'ExecutionAborted':
      case 'ExecutionTimedOut': {
        const member = `${d.type.charAt(0).toLowerCase()}${d.type.slice(1)}EventDetails`;
        const error = execution.error ?? (d.details?.error as string | undefined) ?? (d.type === 'ExecutionTimedOut' ? 'States.Timeout' : undefined);
        const cause = execution.cause ?? (d.details?.cause as string | undefined);
        return { ...base, [member]: { ...(error !== undefined ? { error } : {}), ...(cause !== undefined ? { cause } : {}) } };
      }
    }
    if (d.task) {
      const call = calls.get(d.task.state)?.[d.task.attempt];
      const { resourceType, resource } = d.task;
      const member = DETAILS[d.type];
      if (d.type === 'TaskScheduled')
        return { ...base, [member as string]: { resourceType, resource, region: execution.stateMachineArn.split(':')[3], parameters: call?.parameters ?? '{}' } };
      if (d.type === 'TaskStarted') return { ...base, taskStartedEventDetails: { resourceType, resource } };
      if (d.type === 'TaskSubmitted')
        return { ...base, taskSubmittedEventDetails: { resourceType, resource, output: call?.submitted ?? 'null', outputDetails: { truncated: false } } };
      if (d.type === 'LambdaFunctionScheduled') return { ...base, lambdaFunctionScheduledEventDetails: { resource: resourceType, input: call?.parameters ?? '{}' } };
      if (d.type === 'LambdaFunctionSucceeded') return { ...base, lambdaFunctionSucceededEventDetails: { output: call?.output ?? 'null' } };
      return { ...base, [member as string]: { resourceType, resource, output: call?.output ?? 'null', outputDetails: { truncated: false } } };
    }
    const member = DETAILS[d.type] ?? detailsMember(d.type);
    return member && d.details ? { ...base, [member]: d.details } : base;
  });
}

/** The HistoryEvent member of an event type's details (`TaskStateEntered` → `stateEnteredEventDetails`). */
function detailsMember(type: string): string | undefined {
  if (type.endsWith('StateEntered')) return 'stateEnteredEventDetails';
  if (type.endsWith('StateExited')) return 'stateExitedEventDetails';
  if (type === 'MapStateStarted') return 'mapStateStartedEventDetails';
  if (type.startsWith('MapIteration')) return `${type.charAt(0).toLowerCase()}${type.slice(1)}EventDetails`;
  return undefined;
}
