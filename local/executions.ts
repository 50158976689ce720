import type { StateMachine } from 'aws-local-stepfunctions';
import type { HistoryDraft, TaskCalls } from './history';
import { MAX_TIMER_MS } from './timers';
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
  /** The execution history as Step Functions writes it (local/history.ts): what the quota counts and the API lists. */
  history: HistoryDraft[];
  /** Each Task attempt's parameters and result (the history's Task events read them). */
  taskCalls: TaskCalls;
  /** The history's length (what the 25,000-event quota counts). */
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

/** The longest TimeoutSeconds the interpreter's own (Node) timers hold; longer ones the engine enforces (local/timers.ts). */
export const MAX_INTERPRETER_TIMEOUT_SECONDS = Math.floor(MAX_TIMER_MS / 1000);

/** Whether a TimeoutSeconds is too long for the interpreter's timers (the engine then times it itself). */
export const isLongTimeout = (seconds: unknown): seconds is number => typeof seconds === 'number' && seconds > MAX_INTERPRETER_TIMEOUT_SECONDS;

/**
 * The definition as the in-process interpreter runs it: every TimeoutSeconds (the machine's, a task's) longer than a
 * Node timer holds is left out, and the engine enforces it with a chunked timer (local/step-functions.ts), so a long
 * wait (a month of approvals) ends at its time: neither at once (a Node timer's overflow) nor early. Nothing else
 * changes.
 */
export function withoutLongTimeouts(definition: Record<string, unknown>): Record<string, unknown> {
  const strip = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(strip);
    if (!value || typeof value !== 'object') return value;
    return Object.fromEntries(
      Object.entries(value)
        .filter(([k, v]) => !(k === 'TimeoutSeconds' && isLongTimeout(v)))
        .map(([k, v]) => [k, strip(v)]),
    );
  };
  return strip(definition) as Record<string, unknown>;
}
