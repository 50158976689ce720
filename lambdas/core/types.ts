/** Domain types shared by the handlers, providers, tools and the offline engine. No AWS imports here. */

/** One tool call the model asked for. `arguments` is the parsed JSON; `argumentsError` is set when it was not JSON. */
export interface ToolCall {
  id: string;
  name: string;
  arguments: unknown;
  /** Set when the model's arguments were not valid JSON: the call is answered with a tool error, never executed. */
  argumentsError?: string;
}

export type Message =
  | { role: 'user'; content: string }
  | { role: 'assistant'; content: string; toolCalls: ToolCall[]; reasoning?: Reasoning }
  | { role: 'tool'; toolCallId: string; name: string; content: string; isError?: boolean };

/**
 * A model's own reasoning blocks of an assistant turn (Anthropic extended thinking, Bedrock reasoningContent), kept as
 * the provider sent them: the provider requires them back, unchanged, with the tool results that follow. Opaque to
 * the core; only the provider that wrote them reads them (another provider, e.g. the fallback, ignores them).
 */
export interface Reasoning {
  provider: string;
  blocks: unknown[];
}

/** A tool as the model sees it. */
export interface ToolSpec {
  name: string;
  description: string;
  /** JSON Schema of the arguments object. */
  parameters: Record<string, unknown>;
}

export interface Usage {
  inputTokens: number;
  outputTokens: number;
}

export interface ModelRequest {
  system?: string;
  messages: Message[];
  tools: ToolSpec[];
  /** Already capped to what is left of the token budget. */
  maxOutputTokens: number;
  /**
   * The final answer must be JSON satisfying this schema: requested natively (OpenAI `response_format` json_schema,
   * a forced tool for Anthropic and Bedrock). A provider that answers through its output tool returns that tool's
   * input as the answer's text (JSON), never as a tool call.
   */
  output?: { schema: Record<string, unknown>; name: string };
  /** The step the call belongs to (the loop's counter; a compacted prompt no longer shows it). Providers ignore it. */
  step?: number;
  /** What the call is for: the step's answer (absent), or a summary of older steps (lambdas/core/context.ts). Providers ignore it. */
  purpose?: 'summary';
}

export interface ModelResponse {
  text: string;
  toolCalls: ToolCall[];
  usage: Usage;
  /** Provider's finish/stop reason, normalised loosely (stop, tool_use, length, ...). */
  finishReason: string;
  /** The model's reasoning blocks, to be sent back with the turn (see {@link Reasoning}). */
  reasoning?: Reasoning;
  model: string;
}

/** The model providers (`models.*.provider`): the offline demo model and the hosted APIs. */
export const PROVIDERS = ['demo', 'openai', 'anthropic', 'bedrock'] as const;
export type ProviderName = (typeof PROVIDERS)[number];
/** The providers that answer over the network (prices and context windows are theirs). */
export type HostedProvider = Exclude<ProviderName, 'demo'>;

/** A model client. Implementations enforce their own client timeout and throw only taxonomy errors. */
export interface ModelProvider {
  readonly provider: string;
  readonly model: string;
  complete(request: ModelRequest): Promise<ModelResponse>;
}

const ACTIVE = ['RUNNING', 'PAUSED', 'AWAITING_APPROVAL'] as const;
const TERMINAL = ['SUCCEEDED', 'DEGRADED', 'UNFINISHED', 'CANCELLED', 'FAILED'] as const;
/** Status of a run (docs/api.md, Statuses). */
export type RunStatus = (typeof ACTIVE)[number] | (typeof TERMINAL)[number];
/** Statuses of a run still under way (an admin stop ends these: CANCELLED / KILLED). */
export const ACTIVE_STATUSES: readonly RunStatus[] = ACTIVE;
/** Statuses a run never leaves. */
export const TERMINAL_STATUSES: readonly RunStatus[] = TERMINAL;
/** Every status, in the order a run may pass through them. */
export const RUN_STATUSES: readonly RunStatus[] = [...ACTIVE, ...TERMINAL];

/** Why a run ended where it did (docs/api.md, "Stop reasons"); a run that simply answered has none. */
export const STOP_REASONS = [
  // UNFINISHED: a guardrail stopped the run.
  'STEP_BUDGET',
  'TOKEN_BUDGET',
  'COST_BUDGET',
  'SPEND_LIMIT',
  'REPETITION',
  'PAUSE_EXPIRED',
  'APPROVAL_EXPIRED',
  'OUTPUT_INVALID',
  'CONTEXT_WINDOW',
  // CANCELLED: through the API, by an admin, or outside the API.
  'CANCELLED',
  'KILLED',
  'ABORTED',
  // FAILED: the execution.
  'EXECUTION_FAILED',
  'EXECUTION_TIMED_OUT',
  'START_FAILED',
  // DEGRADED / SUCCEEDED without a plain answer.
  'MODELS_UNAVAILABLE',
  'MODEL_REFUSAL',
] as const;
export type StopReason = (typeof STOP_REASONS)[number];
/** True for a known stop reason (a value read from the state or the table is only a string). */
export const isStopReason = (value: unknown): value is StopReason => typeof value === 'string' && (STOP_REASONS as readonly string[]).includes(value);

export interface DegradedEntry {
  dependency: string;
  reason: string;
  fallback: string;
}

/** The run as users see it (CLI --json, GET /runs/{id}). */
export interface RunView {
  runId: string;
  /** The thread the run belongs to, null for a lone run. */
  threadId: string | null;
  status: RunStatus;
  answer: string | null;
  stopReason: StopReason | null;
  steps: number;
  /** Tokens, and the model spend in US dollars from the price table (0 for the demo model). */
  usage: Usage & { costUsd: number };
  degraded: DegradedEntry[];
  /** Tool calls waiting for a person's decision (empty unless the run is AWAITING_APPROVAL). */
  pendingApprovals: PendingApproval[];
  /** The structured answer (parsed JSON satisfying the run's output schema), or null (docs/agent.md); runView always sets it. */
  output?: unknown;
  createdAt: string;
  updatedAt: string;
}

/** A tool call waiting for approval, as users see it (docs/api.md, The run). */
export interface PendingApproval {
  toolCallId: string;
  name: string;
  arguments: unknown;
  requestedAt: string;
  expiresAt: string;
}

/** A trace event (docs/api.md): the closed union of every kind, in ./trace.ts. */
export type { TraceEvent, TraceEventDraft } from './trace';

/** What a tool call runs with. */
export interface ToolContext {
  runId: string;
  step: number;
  toolCallId: string;
  /** The same key on every retry of the same call (see idempotencyKeyFor in core/signature.ts); sent to external tools. */
  idempotencyKey: string;
  /** Aborts the call (e.g. the Lambda is about to time out). */
  signal?: AbortSignal;
}

/** The outcome of one tool call. */
export interface ToolResult {
  /** What the model sees. */
  content: string;
  /** True when `content` is an error message for the model (bad arguments, 4xx, unknown tool, ...). */
  isError?: boolean;
  /** Set when a dependency failed and a fallback answered instead: the run reports it to the user. */
  degraded?: DegradedEntry;
  /** Structured result for the trace (not shown to the model). */
  data?: unknown;
  /** Where an external tool ran, for the trace: `mcp:<server>/<tool>` or `lambda:<function ARN>`. */
  source?: string;
}

/**
 * A tool. `run` resolves with a result for the model, including `isError` results for anything the model can fix
 * or must be told about; it THROWS only transient taxonomy errors (TransientError, TimeoutError, RateLimited), so
 * the state machine retries them.
 */
export interface Tool {
  spec: ToolSpec;
  run(args: unknown, ctx: ToolContext): Promise<ToolResult>;
}
