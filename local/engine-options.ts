import type { TraceEvent } from '../lambdas/core/types';
import type { Runtime } from '../lambdas/runtime';
import type { AgentConfig } from '../lib/config';
import type { EventLog } from './executions';
import type { LambdaFaults } from './lambda-invoker';
import type { DynamoFaults } from './streams';
import type { CfnTemplate } from './template';
import type { Timers } from './timers';

/** What starts an offline engine (the CLI, the local server, replay, tests). */
export interface EngineOptions {
  config: AgentConfig;
  /** The synthesized template; synthesized in-process (cached by config and code) when absent. */
  template?: CfnTemplate;
  /** Keep DynamoDB on disk here (npm start); in memory when absent (tests, `agent run`). */
  dataDir?: string;
  fetchImpl?: typeof fetch;
  docsDir?: string;
  /** Every trace event as it is written. */
  onTrace?: (runId: string, event: TraceEvent) => void;
  /** Every engine event (state entered, retried, caught...) of every execution. */
  onStateEvent?: (runId: string, event: EventLog) => void;
  /** Called when delivering an event to a rule's target fails (EventBridge would retry). */
  onDeliveryError?: (rule: string, err: Error) => void;
  /**
   * Called when a stream record's delivery to its function (the Langfuse exporter) failed on every attempt (the run
   * itself is not affected); `runId` is the record's run, when it has one.
   */
  onExportError?: (runId: string, err: Error) => void;
  /**
   * Replaces the models and the tool runner (replay serves recorded outputs through these), or the handlers' clock
   * (`now`: daily spend days, the hybrid segment's elapsed time; tests move it instead of waiting).
   */
  overrides?: Partial<Pick<Runtime, 'model' | 'runTool' | 'listTools' | 'now'>>;
  /** Wraps the tool runner of the call-tool step (evals serve recorded tool results through it: local/eval.ts). */
  wrapTools?: (runTool: Runtime['runTool']) => Runtime['runTool'];
  /** Port of the local Step Functions API (AWS_ENDPOINT_URL_SFN); any free port when absent. */
  sfnPort?: number;
  /** Port of DynamoDB (AWS_ENDPOINT_URL_DYNAMODB: dynalite behind its IAM front); any free port when absent. */
  dynamoPort?: number;
  /** Port of Secrets Manager (AWS_ENDPOINT_URL_SECRETS_MANAGER); any free port when absent. */
  secretsPort?: number;
  /** Port of the Lambda Invoke API of `lambda` tools (AWS_ENDPOINT_URL_LAMBDA); any free port when absent. */
  lambdaPort?: number;
  /** Port of Bedrock Runtime (AWS_ENDPOINT_URL_BEDROCK_RUNTIME, local/bedrock.ts); any free port when absent. */
  bedrockPort?: number;
  /**
   * The local Secrets Manager's secrets, by name or complete ARN (a JSON object value as its JSON). Added to those of
   * `secretsFile` and to those the config's key variables hold (local/secrets-manager.ts), and winning over them.
   */
  secrets?: Record<string, string>;
  /** A JSON file of secrets (the CLI: AGENT_SECRETS_FILE, default .agent-data/secrets.json); none when absent. */
  secretsFile?: string;
  /** Powertools log level of the handlers. @default SILENT (ERROR when AGENT_LOG is set) */
  logLevel?: string;
}

/**
 * Knobs that bend the emulated services for tests, replay and the bench (the second argument of
 * LocalEngine.start; test/helpers/engine.ts sets them). Absent, every service behaves as deployed.
 */
export interface EngineKnobs {
  /**
   * Retry sleeps: 1 = real (backoff and full jitter as deployed); 0 = no sleep (tests, replay); in between = each
   * retrier's interval scaled, without backoff. @default 1
   */
  retryScale?: number;
  /** DynamoDB: throttled requests (the SDK retries them) and global secondary index lag. */
  dynamoFaults?: DynamoFaults & { throttle?: (operation: string) => boolean };
  /** Make an invocation of a function crash (Lambda.Unknown), as an out-of-memory or a process exit would. */
  lambdaFaults?: LambdaFaults;
  /** Picks among an alias's versions by weight (a canary). @default Math.random */
  random?: () => number;
  /**
   * The execution history quota (events per execution, counted as Step Functions counts them: local/limits.ts
   * HistoryCounter), lowered to reach it quickly. @default 25,000 (AWS's hard quota)
   */
  historyLimit?: number;
  /**
   * The timers of the engine's long waits (task tokens' timeouts, TimeoutSeconds past what a Node timer holds:
   * local/timers.ts), e.g. a virtual clock to pass a month of waiting at once. @default the real ones
   */
  timers?: Timers;
  /**
   * The hybrid engine (docs/hybrid.md): when it returns true, an Express segment (a `.sync` child) that ended is run
   * once more with the same input, as Express's at-least-once delivery may do; the parent gets the second run's
   * output. `index` counts the parent's `.sync` tasks from 1.
   */
  rerunSegment?: (info: { parentArn: string; index: number }) => boolean;
  /**
   * The hybrid engine: other faults of a segment. `concurrent`: a second copy of the segment runs at the same time
   * as the first, with the same input (Express's at-least-once); the parent gets the first copy's output once both
   * have ended. `timedOut`: the segment runs to its end but is reported TIMED_OUT (States.Timeout), as one whose last
   * step outlived Express's 5 minutes after its work was recorded.
   */
  segmentFault?: (info: { parentArn: string; index: number }) => SegmentFault | undefined;
}

/** See EngineKnobs.segmentFault. */
export type SegmentFault = 'concurrent' | 'timedOut';

/** The knobs' names (to split a mixed options object). */
export const ENGINE_KNOBS = [
  'retryScale',
  'dynamoFaults',
  'lambdaFaults',
  'random',
  'historyLimit',
  'timers',
  'rerunSegment',
  'segmentFault',
] as const satisfies readonly (keyof EngineKnobs)[];
