import type { StateMachine } from 'aws-local-stepfunctions';
import type { Revision } from './versions';

/** One event of the engine's execution log (the package does not export the type). */
export type EventLog = ReturnType<StateMachine['run']>['eventLogs'] extends AsyncGenerator<infer E> ? E : never;

/** An execution's status, as Step Functions reports it. */
export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

/** One execution of the local state machine (what DescribeExecution and GetExecutionHistory read). */
export interface LocalExecution {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  input: string;
  status: ExecutionStatus;
  startDate: Date;
  stopDate?: Date;
  output?: string;
  error?: string;
  cause?: string;
  /** The engine's event log (the interpreter's events; GetExecutionHistory reads it). */
  events: EventLog[];
  /** The execution history's length as Step Functions counts it (local/limits.ts HistoryCounter). */
  historyEventCount: number;
  /** Settles when the execution has ended and its status change has been delivered. */
  done: Promise<void>;
  abort?: () => void;
  /** The version it runs on and the alias it was started through (DescribeExecution), when started on one. */
  stateMachineVersionArn?: string;
  stateMachineAliasArn?: string;
  /** The definition and handlers it runs on, fixed at its start whatever is deployed meanwhile. */
  revision: Revision;
}

/** Every state of the definition, nested Map processors included. */
export function allStates(definition: Record<string, unknown>): [string, Record<string, unknown>][] {
  const out: [string, Record<string, unknown>][] = [];
  const walk = (def: Record<string, unknown>) => {
    for (const [name, state] of Object.entries((def.States ?? {}) as Record<string, Record<string, unknown>>)) {
      out.push([name, state]);
      const nested = (state.ItemProcessor ?? state.Iterator) as Record<string, unknown> | undefined;
      if (nested) walk(nested);
      for (const branch of (state.Branches ?? []) as Record<string, unknown>[]) walk(branch);
    }
  };
  walk(definition);
  return out;
}

/** Counts billed state transitions (states entered, as Step Functions Standard bills them) in an event log. */
export function countTransitions(events: EventLog[]): number {
  return events.filter((e) => e.type === 'StateEntered').length;
}

/** Node timers hold at most 2^31-1 ms (~24.8 days); a longer one fires at once. */
const MAX_TIMER_SECONDS = Math.floor((2 ** 31 - 1) / 1000);

/**
 * The definition as the in-process interpreter runs it: every TimeoutSeconds (the machine's, a task's) above what a
 * Node timer can hold is held at that limit, so a long wait (a month of approvals) ends when it would offline
 * instead of at once. Nothing else changes.
 */
export function withTimerSafeTimeouts(definition: Record<string, unknown>): Record<string, unknown> {
  const cap = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(cap);
    if (!value || typeof value !== 'object') return value;
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, k === 'TimeoutSeconds' && typeof v === 'number' ? Math.min(v, MAX_TIMER_SECONDS) : cap(v)]),
    );
  };
  return cap(definition) as Record<string, unknown>;
}
