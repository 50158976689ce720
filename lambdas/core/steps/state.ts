import type { ApprovalPolicy } from '../approvals';
import { BadRequest } from '../errors';
import type { Instructions } from '../instructions';
import { DEFAULT_INSTRUCTIONS } from '../instructions';
import type { OutputSpec } from '../output';
import type { ModelCallClaims, RunRecord, RunRepository, StoredMessage } from '../ports';
import type { ModelPrice, PriceSource } from '../pricing';
import type { DailyCaps, SpendPort } from '../spend';
import type { CaughtError, Tier } from '../trace';
import {
  type DegradedEntry,
  type Message,
  type ModelProvider,
  type RunStatus,
  type StopReason,
  TERMINAL_STATUSES,
  type ToolCall,
  type ToolContext,
  type ToolResult,
  type ToolSpec,
} from '../types';

export type { CaughtError, Tier } from '../trace';

/**
 * What the agent loop's steps share (lambdas/core/steps/*, one file per state, as lambdas/handlers/): the small
 * `LoopState` carried between states, the dependencies the handlers inject, and the re-read of the run every step
 * starts with. Messages and trace events live in the table, never in the payload.
 */

/**
 * The small state carried between states. Never grows with the conversation. Closed: every field the state machine
 * writes into it (the tasks' results and the Catch and Pass `ResultPath`s of lib/workflow.ts) is declared here.
 */
export interface LoopState {
  runId: string;
  /** Steps completed (the loop counter; the state machine adds 1 before each model call). */
  step: number;
  maxSteps: number;
  maxTokens: number;
  /** `stopped`: the run is already final (e.g. CANCELLED): Route leaves the loop without finalizing again. */
  outcome: 'start' | 'tools' | 'final' | 'stopped';
  toolCalls: { id: string }[];
  toolCount: number;
  /** Signature of this step's tool calls and of the previous step's (the repetition detector compares them). */
  callSig: string;
  prevCallSig: string;
  /**
   * Set by the Pass states before Surrender (`$.stopReason`: REPETITION, STEP_BUDGET, PAUSE_EXPIRED...); on a
   * `stopped` outcome, the final run's stop reason, or its status when it has none.
   */
  stopReason?: StopReason | RunStatus;
  /** Set when a pause was requested: Route sends the loop to the Pause state; the Pause task's result (`$.pauseRequested`) clears it. */
  pauseRequested?: boolean;
  /** Set when a tool call of the step waits for a decision: Route sends the loop to AwaitApproval; its result (`$.approvalRequired`) clears it. */
  approvalRequired?: boolean;
  /** Catch `$.error`: why a model call, the tools, a pause or an approval failed (the fallback tier and finalize read it). */
  error?: CaughtError;
  /** Catch `$.toolError`: why CallTool kept failing (RecordToolFailure turns it into the tool's result). */
  toolError?: CaughtError;
  /** Structured output: whether the step's final answer satisfies the run's schema (finalize reads it). */
  output?: 'valid' | 'invalid';
  /**
   * The hybrid engine (docs/hybrid.md): the step at which the Express segment hands the loop back to its parent (set
   * by the parent when it starts a segment; the model step carries it on, no step reads it).
   */
  segmentEnd?: number;
  /**
   * The hybrid engine: the segment has run past its time (config `hybrid.segmentSeconds`), so it hands the loop back to
   * its parent at this step's tool-call boundary (set by the model step from the segment's start time).
   */
  segmentDue?: boolean;
  /** The hybrid engine: how the segment ended (its exit states set it; the parent routes on it). */
  exit?: 'FINISH' | 'SURRENDER' | 'DEGRADE' | 'REFUSED' | 'STOPPED' | 'PAUSE' | 'APPROVAL' | 'NEXT';
}

/** What the handler knows about its own invocation. */
export interface Invocation {
  /** Milliseconds left before the Lambda times out. */
  remainingMs?: () => number;
}

export interface LoopDeps {
  runs: RunRepository;
  /** The model of a tier (already behind its breaker), or undefined when the tier is not configured. */
  model: (tier: Tier) => ModelProvider | undefined;
  /** The tools the model is offered. */
  toolSpecs: ToolSpec[];
  /**
   * When set, the tools offered for each model call, listed at call time (MCP servers), with the servers that could
   * not be listed: the run goes on without their tools, degraded. Never throws.
   */
  listTools?: () => Promise<{ specs: ToolSpec[]; unavailable: DegradedEntry[]; notListed?: { dependency: string; names: string[] }[] }>;
  /**
   * Runs one tool call: unknown tools and unparsable arguments come back as error results; only transient errors
   * are thrown (lambdas/tools/registry.ts `runTool`).
   */
  runTool: (call: ToolCall, ctx: ToolContext) => Promise<ToolResult>;
  /** The system prompt, when a test sets it directly; else `instructions`, else the default. */
  system?: string;
  /** The instructions of every call (the config's; ../instructions.ts). */
  instructions?: Instructions;
  /** The config's structured output (a run's own `outputSchema` wins). */
  output?: OutputSpec;
  /** The context window of a tier's model (../context-windows.ts); no compaction when undefined. */
  contextWindow?: (tier: Tier) => number | undefined;
  /**
   * Where the conversation of a run comes from (../context.ts): by default the run's own messages, after, for a thread
   * run, the messages of the thread's earlier runs (../threads.ts threadConversation). The view of the run
   * (`contextView`) is applied to what it returns.
   */
  history?: (run: RunRecord) => Promise<StoredMessage[]>;
  maxOutputTokens: (tier: Tier) => number;
  /** Estimated input tokens of a request (../tokens.ts; injected so only the model handler bundles the tokenizer). */
  estimatePromptTokens: (request: { system?: string; messages: Message[]; tools: ToolSpec[] }) => number;
  /** Tokens kept back from each run's budget for a closing summary. */
  reserveRatio?: number;
  /** Tool calls run per step; the rest are answered with an error result (bounds the execution history). */
  maxToolCallsPerStep?: number;
  /** Wall clock for latencies. */
  clock?: () => number;
  /** The state machine's retry window: a Retry-After beyond it fails over instead of waiting. */
  maxRetryDelaySeconds?: number;
  sleep?: (ms: number) => Promise<void>;
  log?: (message: string, fields: Record<string, unknown>) => void;
  /** The price of a model (config `pricing`, built-in prices, demo free); undefined when unknown. */
  priceOf?: (model: { provider: string; model: string }) => { price: ModelPrice; source: PriceSource } | undefined;
  /** Daily spend counters and caps (../spend.ts); no daily checks without them. */
  spend?: SpendPort;
  caps?: DailyCaps;
  /** The date for UTC days (spend counters). */
  now?: () => Date;
  /** Tools whose calls wait for a person's decision (../approvals.ts); none when absent. */
  approvals?: ApprovalPolicy;
  /**
   * Claims of a step's model call: a copy of the step running at the same time (an Express segment run twice at
   * once) waits for the holder's stored answer instead of sending a second request. No claims when absent.
   */
  modelClaims?: ModelCallClaims;
}

/** The default system prompt (the config's `instructions` replace it: ../instructions.ts). */
export const SYSTEM_PROMPT = DEFAULT_INSTRUCTIONS;

/** True when the run is in a status it never leaves (SUCCEEDED, CANCELLED incl. KILLED, FAILED...): no more work. */
export function isFinal(run: Pick<RunRecord, 'status'>): boolean {
  return TERMINAL_STATUSES.includes(run.status);
}

/** The loop state of a run that is already final: Route sends `stopped` to the Stopped state (nothing written). */
export function stoppedState(run: RunRecord, state?: LoopState): LoopState {
  return {
    runId: run.runId,
    step: state?.step ?? run.step,
    maxSteps: state?.maxSteps ?? run.maxSteps,
    maxTokens: state?.maxTokens ?? run.maxTokens,
    outcome: 'stopped',
    toolCalls: [],
    toolCount: 0,
    callSig: state?.callSig ?? '',
    prevCallSig: state?.prevCallSig ?? '',
    stopReason: run.stopReason ?? run.status,
  };
}

/** The run, read again (every step starts so: a run finalized meanwhile does no more work). */
export async function mustGetRun(runs: RunRepository, runId: string): Promise<RunRecord> {
  const run = await runs.getRun(runId);
  if (!run) throw new BadRequest(`run ${runId} does not exist`);
  return run;
}
