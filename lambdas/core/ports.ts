import type { ContextView } from './context';
import type { OutputSpec } from './output';
import type { DegradedEntry, Message, PendingApproval, RunStatus, StopReason, TraceEvent, TraceEventDraft, Usage } from './types';

/** The run item (pk RUN#id, sk META). */
export interface RunRecord {
  runId: string;
  userId: string;
  input: string;
  status: RunStatus;
  step: number;
  tokensIn: number;
  tokensOut: number;
  maxSteps: number;
  maxTokens: number;
  stopReason: StopReason | null;
  answer: string | null;
  degraded: DegradedEntry[];
  /** Signature of the last step's tool calls (repetition detector). */
  lastCallSig: string;
  /** Checkpoint format (lambdas/core/checkpoint.ts); absent = format 1. */
  checkpointVersion?: number;
  /** Format 2: the signature of the step before `sigStep` (the repetition detector compares the two on a resume). */
  prevCallSig?: string;
  sigStep?: number;
  createdAt: string;
  updatedAt: string;
  /** Set by the API to stop at the next tool-call boundary. */
  pauseRequested?: boolean;
  taskToken?: string;
  executionArn?: string;
  /** Executions started to continue this run from its checkpoint. */
  resumes?: number;
  /** Model spend so far in whole micro-dollars (ADD once per model step). */
  costMicros?: number;
  /** The run's dollar budget (budgets.maxCostUsd), when it has one. */
  maxCostUsd?: number;
  /** The approval-required calls of the step `approvalStep`, by toolCallId, with their decisions once made. */
  approvals?: Record<string, ApprovalEntry>;
  approvalStep?: number;
  /** The thread the run belongs to (docs/threads.md); absent for a lone run. */
  threadId?: string;
  /** A thread run: the thread's earlier runs, oldest first, whose messages its prompt starts with (referenced). */
  history?: string[];
  /** The JSON Schema the final answer must satisfy (the request's `outputSchema`, else the config's `output`). */
  outputSchema?: OutputSpec;
  /** The parsed structured answer, once the run finished with one that satisfies its schema. */
  output?: unknown;
  /** What the prompt leaves out of the conversation to fit the context window (lambdas/core/context.ts): a checkpoint. */
  contextView?: ContextView;
}

/** One approval-required tool call and, once made, its decision (stored on the run item). */
export interface ApprovalEntry extends PendingApproval {
  step: number;
  decision?: 'approve' | 'reject';
  reason?: string | null;
  decidedBy?: string;
  decidedAt?: string;
}

/** One message of the conversation, stored once under (step, seq). */
export interface StoredMessage {
  step: number;
  seq: number;
  message: Message;
  usage?: Usage;
  at: string;
  /** Model tier that produced an assistant message. */
  tier?: string;
  model?: string;
  /** What the call that produced an assistant message cost, in whole micro-dollars. */
  costMicros?: number;
  /** The trace event of the call that produced this message, stored in the same item (lambdas/core/trace-refs.ts). */
  event?: TraceEvent;
}

/** A run as it is created (RunRepository.createRun). */
export interface NewRunRecord {
  runId: string;
  userId: string;
  input: string;
  maxSteps: number;
  maxTokens: number;
  maxCostUsd?: number;
  outputSchema?: OutputSpec;
  /** A thread run (docs/threads.md): its thread, and the earlier runs its conversation starts with. */
  threadId?: string;
  history?: string[];
}

/** What the core needs from the run store (implemented by lambdas/store/run-store.ts). */
export interface RunRepository {
  getRun(runId: string): Promise<RunRecord | undefined>;
  createRun(input: NewRunRecord): Promise<{ run: RunRecord; created: boolean }>;
  /** Stores the run's compacted view (before the model call it is made for: a resume reads it back). */
  saveContextView(runId: string, view: ContextView): Promise<void>;
  /**
   * Writes a message once. `event` (the trace event of the call that produced it, referencing it) is stored in the
   * same item; when the message was already there, the event is appended on its own.
   */
  putMessage(runId: string, m: StoredMessage, event?: TraceEventDraft): Promise<{ written: boolean; stored: StoredMessage }>;
  getMessage(runId: string, step: number, seq: number): Promise<StoredMessage | undefined>;
  listMessages(runId: string): Promise<StoredMessage[]>;
  recordModelStep(runId: string, step: number, usage: Usage, callSig: string, costMicros?: number): Promise<RunRecord>;
  addDegraded(runId: string, entry: DegradedEntry): Promise<void>;
  /**
   * Moves a run under way to a terminal status once (a no-op returning the run otherwise). `expiringApprovals`: only
   * while the run is AWAITING_APPROVAL with some call of its step still undecided (the approval timeout's ending:
   * a last decision that landed first wins, lambdas/core/approvals.ts).
   * `usage`/`costMicros`: tokens the run spent that no step counted (a context summary of a step that never
   * answered), added to the run's in the same write.
   */
  finalizeRun(
    runId: string,
    result: { status: RunStatus; answer: string; stopReason: StopReason | null; output?: unknown; usage?: Usage; costMicros?: number },
    options?: { expiringApprovals?: boolean },
  ): Promise<RunRecord>;
  appendEvent(runId: string, event: TraceEventDraft): Promise<TraceEvent>;
  listEvents(runId: string): Promise<TraceEvent[]>;
}

/** A page of a user's runs, newest first; `nextCursor` is opaque to callers. */
export interface RunPage {
  runs: RunRecord[];
  nextCursor: string | null;
}

/** What the API routes need from the run store beyond the loop's part (implemented by lambdas/store/run-store.ts). */
export interface ApiRunRepository extends RunRepository {
  /** A user's runs, newest first (the byUser index). */
  listRunsByUser(userId: string, options?: { limit?: number; cursor?: string }): Promise<RunPage>;
  /** Runs in one of the given statuses (admin stop; the offline engine's crash recovery). */
  listRunsByStatus(statuses: RunStatus[]): Promise<RunRecord[]>;
  /**
   * Binds a user's Idempotency-Key to `runId` and the request's fingerprint, or returns the run (and fingerprint,
   * when the claim has one) already bound to it (`claimed: false`).
   */
  claimIdempotencyKey(userId: string, key: string, runId: string, fingerprint?: string): Promise<{ runId: string; claimed: boolean; fingerprint?: string }>;
  /** Releases a claimed key (its run could not be started), only while it still names that run. */
  releaseIdempotencyKey(userId: string, key: string, runId: string): Promise<void>;
}

/**
 * Steering a run from outside (the API's pause/resume/cancel routes, the CLI). Implemented for AWS (Step Functions
 * task tokens, StopExecution, StartExecution from the checkpoint) and for the offline engine.
 */
export interface RunControl {
  /** Starts the execution of a created run (StartExecution named after the runId). */
  start(run: { runId: string; userId: string }): Promise<void>;
  /** Asks the loop to stop at the next tool-call boundary; the run is PAUSED when it gets there. */
  pause(runId: string): Promise<void>;
  /** Continues a PAUSED run (its task token is sent back), or a FAILED one from its checkpoint (same runId and trace). */
  resume(runId: string): Promise<void>;
  /** Stops the execution and marks the run CANCELLED (stopReason CANCELLED, or KILLED for an admin stop). */
  cancel(runId: string, reason?: 'CANCELLED' | 'KILLED'): Promise<void>;
  /** Records a person's decision on a tool call waiting for approval (lambdas/core/approvals.ts). */
  decide(runId: string, toolCallId: string, decision: { decision: 'approve' | 'reject'; reason?: string; decidedBy: string }): Promise<{ remaining: number }>;
}

/**
 * Claims of a step's model call (docs/hybrid.md): two copies of one step running at the same time (an Express segment
 * run twice at once) send one provider request. A claim has a lease: one left by a crashed handler ends with it.
 */
export interface ModelCallClaims {
  /** Takes the claim of `step`'s model call for `owner` for `leaseMs`; false while another owner's lease lasts. */
  claim(runId: string, step: number, owner: string, leaseMs: number): Promise<boolean>;
  /** Gives the claim back (only `owner`'s; no-op otherwise). */
  release(runId: string, step: number, owner: string): Promise<void>;
  /** Drops the claim whoever holds it (its holder is known to be dead: the offline engine after its process died). */
  drop(runId: string, step: number): Promise<void>;
}
