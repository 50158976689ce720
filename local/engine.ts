import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { Logger } from '@aws-lambda-powertools/logger';
import { DeleteCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import { StateMachine } from 'aws-local-stepfunctions';
import { effectiveBudgets } from '../lambdas/core/budget';
import { createRunControl } from '../lambdas/core/control';
import { runView } from '../lambdas/core/loop';
import type { RunControl } from '../lambdas/core/ports';
import type { RunView, TraceEvent } from '../lambdas/core/types';
import { exportRunToLangfuse, langfuseTarget } from '../lambdas/exporters/langfuse';
import { createHandler as callModel } from '../lambdas/handlers/call-model';
import { createHandler as callTool } from '../lambdas/handlers/call-tool';
import { createHandler as finalize } from '../lambdas/handlers/finalize';
import { createHandler as loadRun } from '../lambdas/handlers/load-run';
import { createHandler as pause } from '../lambdas/handlers/pause';
import { createRuntime, type Runtime } from '../lambdas/handlers/runtime';
import type { AgentConfig } from '../lib/config';
import { ensureTable, type LocalDynamo, startDynalite } from './dynamo';
import { type CfnTemplate, cachedTemplate, definitionOf, functionsOf, type LocalFunction, tablesOf, validateDefinitionOnce } from './template';

/** One event of the engine's execution log (the package does not export the type). */
export type EventLog = ReturnType<StateMachine['run']>['eventLogs'] extends AsyncGenerator<infer E> ? E : never;

type Handler = (event: unknown, context: Context) => Promise<unknown>;
const FACTORIES: Record<string, (rt: Runtime) => Handler> = {
  'load-run': loadRun as (rt: Runtime) => Handler,
  'call-model': callModel as (rt: Runtime) => Handler,
  'call-tool': callTool as (rt: Runtime) => Handler,
  finalize: finalize as (rt: Runtime) => Handler,
  pause: pause as (rt: Runtime) => Handler,
};

export interface EngineOptions {
  config: AgentConfig;
  /** The synthesized template; synthesized in-process (cached by config and code) when absent. */
  template?: CfnTemplate;
  /** Keep DynamoDB on disk here (npm start); in memory when absent (tests, `agent run`). */
  dataDir?: string;
  /**
   * Retry sleeps: 1 = real (backoff and full jitter as deployed); 0 = no sleep (tests); in between = each
   * retrier's interval scaled, without backoff.
   */
  retryScale?: number;
  fetchImpl?: typeof fetch;
  docsDir?: string;
  /** Every trace event as it is written. */
  onTrace?: (runId: string, event: TraceEvent) => void;
  /** Every engine event (state entered, retried, caught...) of every execution. */
  onStateEvent?: (runId: string, event: EventLog) => void;
  /** Called when exporting a run's trace fails (the run itself is not affected). */
  onExportError?: (runId: string, err: Error) => void;
  /** Replaces the models and the tool runner (replay serves recorded outputs through these). */
  overrides?: Partial<Pick<Runtime, 'model' | 'runTool'>>;
  /** Powertools log level of the handlers. @default SILENT (ERROR when AGENT_LOG is set) */
  logLevel?: string;
}

/** One finished execution. */
export interface ExecutionResult {
  runId: string;
  run: RunView;
  /** The engine's event log of the execution (for counting billed state transitions). */
  events: EventLog[];
  /** Set when the execution itself failed (a real fault, not a guardrail). */
  error?: { name: string; message: string };
}

/**
 * The offline engine: runs the synthesized state machine, unchanged, with aws-local-stepfunctions; every Task is
 * routed to its handler in-process (by the function the definition names) and DynamoDB is dynalite.
 */
export class LocalEngine {
  readonly definition: Record<string, unknown>;
  readonly functions: Map<string, LocalFunction>;
  private readonly machine: StateMachine;
  private readonly handlers = new Map<string, Handler>();
  private readonly running = new Map<string, Promise<ExecutionResult>>();
  private readonly aborts = new Map<string, () => void>();
  /** Task tokens of executions waiting in a .waitForTaskToken state → how to complete them. */
  private readonly waiting = new Map<string, { resolve: (output: unknown) => void; reject: (err: Error) => void }>();
  /** pause/resume/cancel, as the API and the CLI use them. */
  readonly control: RunControl;

  private constructor(
    readonly options: EngineOptions,
    readonly template: CfnTemplate,
    readonly dynamo: LocalDynamo,
    readonly runtime: Runtime,
  ) {
    this.definition = definitionOf(template);
    this.functions = new Map(functionsOf(template).map((f) => [f.arn, f]));
    validateDefinitionOnce(this.definition);
    this.machine = new StateMachine(this.definition as never, { validationOptions: { noValidate: true } });
    for (const f of this.functions.values()) {
      const factory = FACTORIES[f.handler];
      if (factory) this.handlers.set(f.arn, factory(runtime));
    }
    this.control = createRunControl({
      runs: runtime.runs,
      executions: {
        start: async ({ runId, userId }) => {
          this.execute(runId, userId).catch(() => undefined);
          return {};
        },
        sendTaskSuccess: async (token, output) => this.sendTaskSuccess(token, output),
        stop: async ({ runId }) => this.aborts.get(runId)?.(),
      },
    });
  }

  /** Completes a waiting task (SendTaskSuccess). Throws when no execution waits for the token. */
  sendTaskSuccess(token: string, output: string): void {
    const waiter = this.waiting.get(token);
    if (!waiter) throw Object.assign(new Error(`no execution waits for task token ${token}`), { name: 'TaskDoesNotExist' });
    this.waiting.delete(token);
    waiter.resolve(JSON.parse(output));
  }

  /**
   * Continues every run that was RUNNING when a previous engine process died (the on-disk engine behind npm start):
   * each starts a new execution that loads its checkpoint. Returns the run ids.
   */
  async resumeInterrupted(): Promise<string[]> {
    await this.releaseStaleIdempotencyRecords();
    const runs = await this.runtime.runs.listRunsByStatus(['RUNNING']);
    for (const run of runs) {
      if (this.running.has(run.runId)) continue;
      await this.runtime.runs.appendEvent(run.runId, { type: 'engine_restarted', step: run.step });
      this.execute(run.runId, run.userId).catch(() => undefined);
    }
    return runs.map((r) => r.runId);
  }

  static async start(options: EngineOptions): Promise<LocalEngine> {
    const template = options.template ?? cachedTemplate(options.config);
    if (options.dataDir) mkdirSync(options.dataDir, { recursive: true });
    const dynamo = await startDynalite({ path: options.dataDir });
    for (const table of tablesOf(template)) await ensureTable(dynamo.doc, table);
    const fns = functionsOf(template);
    const tableName = fns.find((f) => f.env.TABLE_NAME)?.env.TABLE_NAME;
    if (!tableName) throw new Error('no handler in the template has TABLE_NAME');
    const idempotencyTableName = fns.find((f) => f.env.IDEMPOTENCY_TABLE_NAME)?.env.IDEMPOTENCY_TABLE_NAME;
    const logger = new Logger({ serviceName: 'agent', logLevel: (options.logLevel ?? (process.env.AGENT_LOG ? 'ERROR' : 'SILENT')) as never });
    const runtime = createRuntime({
      config: options.config,
      doc: dynamo.doc,
      tableName,
      idempotencyTableName,
      dynamoClientConfig: dynamo.clientConfig,
      docsDir: options.docsDir,
      fetchImpl: options.fetchImpl,
      logger,
      onEvent: options.onTrace,
    });
    if (options.overrides) Object.assign(runtime, options.overrides);
    return new LocalEngine(options, template, dynamo, runtime);
  }

  /** Creates a run (as POST /runs does) and runs it to the end. */
  async run(input: { input: string; userId?: string; budgets?: { maxSteps?: number; maxTokens?: number }; runId?: string }): Promise<ExecutionResult> {
    const runId = input.runId ?? randomUUID();
    const userId = input.userId ?? 'local';
    const budgets = effectiveBudgets(this.options.config.budgets, input.budgets);
    await this.runtime.runs.createRun({ runId, userId, input: input.input, ...budgets });
    return this.execute(runId, userId);
  }

  /** Starts (or joins) the execution of an existing run. */
  execute(runId: string, userId: string): Promise<ExecutionResult> {
    const existing = this.running.get(runId);
    if (existing) return existing;
    const promise = this.executeOnce(runId, userId).finally(() => this.running.delete(runId));
    this.running.set(runId, promise);
    return promise;
  }

  /** Runs in flight. */
  get inFlight(): string[] {
    return [...this.running.keys()];
  }

  private async executeOnce(runId: string, userId: string): Promise<ExecutionResult> {
    const execution = this.machine.run(
      { runId, userId },
      {
        overrides: { taskResourceLocalHandlers: this.taskHandlers(), retryIntervalOverrides: this.retryOverrides() },
        context: { Execution: { Id: `local:${runId}`, Name: runId, Input: { runId, userId }, StartTime: new Date().toISOString() }, Task: { Token: `local:${runId}` } },
        noThrowOnAbort: true,
      },
    );
    this.aborts.set(runId, execution.abort);
    const events: EventLog[] = [];
    const collecting = (async () => {
      for await (const event of execution.eventLogs) {
        events.push(event);
        this.options.onStateEvent?.(runId, event);
      }
    })();
    let error: ExecutionResult['error'];
    try {
      await execution.result;
    } catch (err) {
      this.aborts.delete(runId);
      error = { name: (err as Error).name, message: (err as Error).message };
      await this.runtime.runs.finalizeRun(runId, { status: 'FAILED', answer: `The run failed: ${error.name}: ${error.message}`, stopReason: error.name });
    }
    this.aborts.delete(runId);
    await collecting;
    await this.exportTrace(runId);
    const run = await this.runtime.runs.getRun(runId);
    if (!run) throw new Error(`run ${runId} vanished`);
    return { runId, run: runView(run), events, ...(error ? { error } : {}) };
  }

  /**
   * This engine is the only worker of its data: at start, a tool execution still marked in progress belongs to a
   * process that died, so its record is released (in AWS the record's in-progress lease expires with the Lambda).
   */
  private async releaseStaleIdempotencyRecords(): Promise<void> {
    const table = functionsOf(this.template).find((f) => f.env.IDEMPOTENCY_TABLE_NAME)?.env.IDEMPOTENCY_TABLE_NAME;
    if (!table) return;
    const out = await this.dynamo.doc.send(new ScanCommand({ TableName: table, FilterExpression: '#s = :p', ExpressionAttributeNames: { '#s': 'status' }, ExpressionAttributeValues: { ':p': 'INPROGRESS' } }));
    for (const item of out.Items ?? []) await this.dynamo.doc.send(new DeleteCommand({ TableName: table, Key: { id: item.id } }));
  }

  /** Off the hot path: when Langfuse is configured, a finished run's trace is exported (failures are logged only). */
  private async exportTrace(runId: string): Promise<void> {
    const langfuse = this.options.config.observability.langfuse;
    if (!langfuse) return;
    try {
      const target = await langfuseTarget(langfuse, process.env);
      await exportRunToLangfuse({ runs: this.runtime.runs, target, fetchImpl: this.options.fetchImpl }, runId);
    } catch (err) {
      this.runtime.logger.error('Langfuse export failed', { runId, err });
      this.options.onExportError?.(runId, err as Error);
    }
  }

  /** Every Task state → the handler of the function its Parameters name (Lambda tasks return {Payload}). */
  private taskHandlers(): Record<string, (input: unknown) => Promise<never>> {
    const out: Record<string, (input: unknown) => Promise<never>> = {};
    for (const [name, state] of allStates(this.definition)) {
      if (state.Type !== 'Task') continue;
      const waitsForToken = String(state.Resource).endsWith('.waitForTaskToken');
      out[name] = async (input: unknown) => {
        const { FunctionName, Payload } = input as { FunctionName: string; Payload: Record<string, unknown> };
        const fn = this.functions.get(FunctionName);
        const handler = this.handlers.get(FunctionName);
        if (!fn || !handler) throw Object.assign(new Error(`no local handler for ${FunctionName}`), { name: 'Lambda.ResourceNotFoundException' });
        if (!waitsForToken) return { Payload: await handler(Payload, lambdaContext(fn)) } as never;
        // .waitForTaskToken: a real token; the execution waits until sendTaskSuccess completes it.
        const token = `${Payload.taskToken}:${randomUUID()}`;
        const output = new Promise<unknown>((resolve, reject) => this.waiting.set(token, { resolve, reject }));
        await handler({ ...Payload, taskToken: token }, lambdaContext(fn));
        return (await output) as never;
      };
    }
    return out;
  }

  private retryOverrides(): Record<string, number> | undefined {
    const scale = this.options.retryScale ?? 1;
    if (scale >= 1) return undefined;
    const out: Record<string, number> = {};
    for (const [name, state] of allStates(this.definition)) {
      const retry = state.Retry as { IntervalSeconds?: number }[] | undefined;
      if (retry?.length) out[name] = Math.round((retry[0]?.IntervalSeconds ?? 1) * 1000 * scale);
    }
    return out;
  }

  async close(): Promise<void> {
    for (const abort of this.aborts.values()) abort();
    // Paused executions are simply dropped: their runs stay PAUSED in the table and resume from the checkpoint.
    this.waiting.clear();
    await Promise.allSettled([...this.running.values()]);
    await this.dynamo.close();
  }
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

function lambdaContext(fn: LocalFunction): Context {
  const deadline = Date.now() + fn.timeoutSeconds * 1000;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: fn.logicalId,
    functionVersion: '$LATEST',
    invokedFunctionArn: fn.arn,
    memoryLimitInMB: '512',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${fn.logicalId}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** Counts billed state transitions (states entered, as Step Functions Standard bills them) in an event log. */
export function countTransitions(events: EventLog[]): number {
  return events.filter((e) => e.type === 'StateEntered').length;
}
