import type { Decision } from './approvals';
import type { CircuitState, WindowTotals } from './breaker';
import type { BudgetReason } from './errors';
import type { PriceSource } from './pricing';
import type { MessageRef } from './trace-refs';
import type { DegradedEntry, Message, RunStatus, StopReason, ToolCall, Usage } from './types';

/**
 * The trace: a closed union of every event kind the runtime writes (docs/api.md, Trace events), one constructor per kind, and the
 * parse of stored events back into the union. Every reader (metrics, the Langfuse export, replay, the CLI's progress,
 * the viewer's list of kinds) switches over `type` with {@link assertNever} in its default, so a new kind or a
 * renamed field fails `npm run typecheck` instead of the dashboard.
 */

/** The model tier of a call. */
export type Tier = 'primary' | 'fallback';

/** A state machine error as Catch puts it into the state. */
export interface CaughtError {
  Error: string;
  Cause?: string;
}

/** What every event has: its kind, when it happened, the step it belongs to. */
interface Envelope<T extends string> {
  type: T;
  at: string;
  step: number;
  /** Set when the event was too large for its item and its bulky fields were cut (lambdas/store/run-store.ts). */
  truncated?: boolean;
}

/** A new run (LoadRun): its input and budgets. */
export interface RunStartedEvent extends Envelope<'run_started'> {
  input: string;
  maxSteps: number;
  maxTokens: number;
  maxCostUsd?: number;
  /** The instructions the run starts with: their hash, and the text (`agent trace --verbose`, the viewer). */
  instructions?: { hash: string; text: string };
  /** The JSON Schema the final answer must satisfy, when the run has one. */
  outputSchema?: { name: string; schema: Record<string, unknown> };
}

/**
 * A run continued by a new execution: from its checkpoint (LoadRun: where it goes on and what is pending), or from
 * AWAITING_APPROVAL when the waiting execution was gone when the last decision came (lambdas/core/approvals.ts).
 */
export type RunResumedEvent = Envelope<'run_resumed'> &
  (
    | {
        input: string;
        maxSteps: number;
        maxTokens: number;
        maxCostUsd?: number;
        resumeAt: 'start' | 'tools' | 'final' | 'stopped';
        pendingToolCalls: number;
        checkpointVersion: number;
        attempt?: number;
      }
    | { from: 'AWAITING_APPROVAL'; attempt: number }
  );

/** The run stored its task token and waits for resume (the Pause state). */
export interface PausedEvent extends Envelope<'paused'> {
  pendingToolCalls: number;
}

/** A pause was asked for through the API; the run pauses at its next boundary. */
export type PauseRequestedEvent = Envelope<'pause_requested'>;

/** The waiting execution of a paused run got its token back. */
export type ResumedEvent = Envelope<'resumed'>;

/** A dependency failed and its fallback answered (or, with `listing`, an MCP server's tools could not be listed). */
export interface FallbackEvent extends Envelope<'fallback'>, DegradedEntry {
  cause?: string;
  listing?: boolean;
}

/** A call refused before it was made: the token or dollar budget, or a daily spend cap. */
export type BudgetEvent = Envelope<'budget'> & { reason: BudgetReason; message: string } & (
    | { estimatedPromptTokens: number; used: number; maxTokens: number; costUsd?: number; maxCostUsd?: number }
    | { reason: 'SPEND_LIMIT'; scope: string; userSpendUsd: number; totalSpendUsd: number }
  );

/** What a failed model or tool call threw (a taxonomy error, lambdas/core/errors.ts). */
export interface CallError {
  name: string;
  message: string;
  /** The HTTP status of a model provider's answer, when there was one. */
  status?: number | null;
}

/** What a model call was sent: the message count, the last message (by reference, resolved on read), the tools. */
export interface ModelCallInput {
  messages: number;
  lastRef?: MessageRef | null;
  /** The last message, resolved from `lastRef` by the trace readers (or stored inline by older versions). */
  last?: Message | null;
  tools?: string[];
}

/** One model call: answered (usage, cost, the answer by reference), failed (`error`), or discarded by a cancel. */
export interface ModelCallEvent extends Envelope<'model_call'> {
  tier: Tier;
  provider: string;
  model: string;
  latencyMs: number;
  estimatedPromptTokens: number;
  usage?: Usage;
  finishReason?: string;
  costUsd?: number;
  priceSource?: PriceSource | null;
  maxOutputTokens?: number;
  input?: ModelCallInput;
  /** The assistant message (step, seq 0); resolved into `output` on read. */
  outputRef?: MessageRef;
  output?: { text: string; toolCalls: ToolCall[] } | null;
  error?: CallError;
  /** The run was final when the call came back (cancelled): the answer is not part of the run. */
  discarded?: RunStatus;
  /** The hash of the instructions (system prompt) the call was sent (lambdas/core/instructions.ts). */
  instructions?: string;
  /** Structured output: why this answer failed its schema (a repair turn follows, or the run ends OUTPUT_INVALID). */
  outputInvalid?: string;
  /** What the call was for when it was not the step's answer: the repair turn of an answer that failed its schema. */
  purpose?: 'repair';
}

/** One tool call: its result (by reference, resolved on read), a thrown transient error, or discarded by a cancel. */
export interface ToolCallEvent extends Envelope<'tool_call'> {
  toolCallId: string;
  name: string;
  arguments?: unknown;
  idempotencyKey: string;
  latencyMs: number;
  isError?: boolean;
  /** The tool message (step, seq); resolved into `result` on read. */
  resultRef?: MessageRef;
  result?: string | null;
  /** Where an external tool ran: `mcp:<server>/<tool>` or `lambda:<function ARN>`. */
  source?: string;
  /** Set by RecordToolFailure: the error the tool kept failing with after the retries. */
  failure?: string;
  error?: CallError;
  discarded?: RunStatus;
}

/** A circuit breaker changed state during a call of this run. */
export interface BreakerEvent extends Envelope<'breaker'> {
  dependency: string;
  from: CircuitState;
  to: CircuitState;
  reason: string;
  window?: WindowTotals;
}

/** The run gave up (step, token or cost budget, repetition, expired pause or approval). */
export interface SurrenderEvent extends Envelope<'surrender'> {
  stopReason: StopReason | null;
}

/** The run reached its final status (finalize, or the execution's failure seen by the status rule). */
export interface RunFinishedEvent extends Envelope<'run_finished'> {
  status: RunStatus;
  stopReason: StopReason | null;
  usage: Usage & { costUsd?: number };
  error?: CaughtError;
  /** Set when the execution itself failed, timed out or was aborted (lambdas/core/execution-status.ts). */
  execution?: { arn: string; status: string };
}

/** The run was cancelled through the API (CANCELLED) or stopped by an admin (KILLED). */
export interface CancelledEvent extends Envelope<'cancelled'> {
  stopReason: StopReason;
}

/** POST /runs could not start the execution. */
export interface StartFailedEvent extends Envelope<'start_failed'> {
  error: string;
}

/** A tool call waits for a person's decision. */
export interface ApprovalRequestedEvent extends Envelope<'approval_requested'> {
  toolCallId: string;
  name: string;
  arguments: unknown;
  expiresAt: string;
}

/** A person decided on a waiting tool call. */
export interface ApprovalDecidedEvent extends Envelope<'approval_decided'> {
  toolCallId: string;
  name: string;
  decision: Decision;
  reason: string | null;
  decidedBy: string;
  latencyMs: number;
}

/** An admin stopped the run (POST /admin/stop). */
export interface AdminStopEvent extends Envelope<'admin_stop'> {
  by: string;
  scope: string;
}

/**
 * The conversation was compacted before a model call to fit the model's context window (lambdas/core/context.ts):
 * older tool results elided, and/or the oldest steps summarized by a separate model call (`summary`, whose usage
 * counts in the step's). `reason`: `window` (the estimate would not fit) or `overflow` (the provider said so).
 */
export interface ContextCompactedEvent extends Envelope<'context_compacted'> {
  tier: Tier;
  model: string;
  reason: 'window' | 'overflow';
  windowTokens: number;
  /** Estimated prompt tokens before and after. */
  tokensBefore: number;
  tokensAfter: number;
  /** Tool results of steps up to this one are elided with a marker. */
  elidedThroughStep: number;
  /** Steps 1..summarizedThroughStep are replaced by a summary. */
  summarizedThroughStep?: number;
  summary?: { text: string; usage: Usage; costUsd?: number };
}

/** The local engine restarted while the run was live, and picks it up again. */
export type EngineRestartedEvent = Envelope<'engine_restarted'>;

/**
 * A stored event of a kind this version does not know (written by another version): kept, with its fields, so no
 * reader drops it silently; never written by this version.
 */
export interface UnrecognizedEvent extends Envelope<'unrecognized'> {
  /** The `type` it was stored with. */
  storedType: string;
  fields: Record<string, unknown>;
}

/** Every event the runtime writes. */
export type WrittenTraceEvent =
  | RunStartedEvent
  | RunResumedEvent
  | PausedEvent
  | PauseRequestedEvent
  | ResumedEvent
  | FallbackEvent
  | BudgetEvent
  | ModelCallEvent
  | ToolCallEvent
  | BreakerEvent
  | SurrenderEvent
  | RunFinishedEvent
  | CancelledEvent
  | StartFailedEvent
  | ApprovalRequestedEvent
  | ApprovalDecidedEvent
  | AdminStopEvent
  | EngineRestartedEvent
  | ContextCompactedEvent;

/** Every event a reader may see: the written kinds, and stored events of a kind this version does not know. */
export type TraceEvent = WrittenTraceEvent | UnrecognizedEvent;

export type TraceEventType = TraceEvent['type'];

/** An event of one kind. */
export type TraceEventOf<T extends TraceEventType> = Extract<TraceEvent, { type: T }>;

/** An event as a writer hands it to the store: `at` is stamped by the store unless given. */
export type TraceEventDraft = WrittenTraceEvent extends infer E ? (E extends WrittenTraceEvent ? Omit<E, 'at'> & { at?: string } : never) : never;

/** The fields a constructor takes: the event without its kind (set by the constructor) and with `at` optional. */
type Fields<E> = E extends unknown ? Omit<E, 'type' | 'at'> & { at?: string } : never;

/** A type guard for one kind: `events.filter(ofKind('tool_call'))` is a `ToolCallEvent[]`. */
export const ofKind =
  <T extends TraceEventType>(type: T) =>
  (e: TraceEvent): e is TraceEventOf<T> =>
    e.type === type;

/** The default of every exhaustive switch over a union: a missing case fails the compile. */
export function assertNever(value: never): never {
  throw new Error(`unhandled case: ${JSON.stringify(value)}`);
}

const draft =
  <T extends WrittenTraceEvent['type']>(type: T) =>
  (fields: Fields<Extract<WrittenTraceEvent, { type: T }>>): Extract<TraceEventDraft, { type: T }> =>
    ({ type, ...fields }) as unknown as Extract<TraceEventDraft, { type: T }>;

/** One constructor per kind: `trace.modelCall({...})` checks the fields of a model_call. */
export const trace = {
  runStarted: draft('run_started'),
  runResumed: draft('run_resumed'),
  paused: draft('paused'),
  pauseRequested: draft('pause_requested'),
  resumed: draft('resumed'),
  fallback: draft('fallback'),
  budget: draft('budget'),
  modelCall: draft('model_call'),
  toolCall: draft('tool_call'),
  breaker: draft('breaker'),
  surrender: draft('surrender'),
  runFinished: draft('run_finished'),
  cancelled: draft('cancelled'),
  startFailed: draft('start_failed'),
  approvalRequested: draft('approval_requested'),
  approvalDecided: draft('approval_decided'),
  adminStop: draft('admin_stop'),
  engineRestarted: draft('engine_restarted'),
  contextCompacted: draft('context_compacted'),
} as const;

/** The kinds of the run's life (LifeEvent below). */
const LIFE = {
  run_started: true,
  run_resumed: true,
  paused: true,
  pause_requested: true,
  resumed: true,
  fallback: true,
  budget: true,
  breaker: true,
  surrender: true,
  run_finished: true,
  cancelled: true,
  start_failed: true,
  approval_requested: true,
  approval_decided: true,
  admin_stop: true,
  engine_restarted: true,
} as const;
/**
 * Every kind the runtime writes, checked against the union: a kind missing here fails the compile. The viewer's list
 * of kinds is tested against it.
 */
const WRITTEN: { [K in WrittenTraceEvent['type']]: true } = { ...LIFE, model_call: true, tool_call: true, context_compacted: true };

/**
 * The events of the run's life (its start, pauses, budgets, breakers, decisions, its end), as opposed to its model
 * and tool calls and its context compactions: the readers that only look at calls (the message references, the
 * replay, the export's generations and spans) pass them over together, and switch over the rest with
 * {@link assertNever}. A new kind is either one of these (listed above) or handled by every such switch.
 */
export type LifeEvent = Extract<WrittenTraceEvent, { type: keyof typeof LIFE }>;
export const isLifeEvent = (e: TraceEvent): e is LifeEvent => Object.hasOwn(LIFE, e.type);
export const TRACE_EVENT_TYPES = Object.keys(WRITTEN) as readonly WrittenTraceEvent['type'][];

const isWrittenType = (t: unknown): t is WrittenTraceEvent['type'] => typeof t === 'string' && Object.hasOwn(WRITTEN, t);

/**
 * A stored event (a DynamoDB item without its keys, or an event from the API's JSON) into the union. The envelope is
 * checked (`at` a string, `step` a number); a kind this version does not write becomes an {@link UnrecognizedEvent}
 * with its fields kept. The fields of a known kind are the ones its writer wrote (this module's constructors).
 */
export function parseTraceEvent(item: Record<string, unknown>): TraceEvent {
  const at = typeof item.at === 'string' ? item.at : '';
  const step = typeof item.step === 'number' ? item.step : 0;
  const { type } = item;
  if (!isWrittenType(type)) {
    const { type: _type, at: _at, step: _step, ...fields } = item;
    return { type: 'unrecognized', at, step, storedType: String(type), fields };
  }
  // The stored order of the fields is kept (a spread keeps each key where it was).
  return { ...item, type, at, step } as WrittenTraceEvent;
}
