import { randomUUID } from 'node:crypto';
import { type CaseResult, caseResult, type EvalCase, observe, runPool } from '../lambdas/core/eval';
import { fixtureToolRunner } from '../lambdas/core/eval-fixtures';
import { judgeAnswer } from '../lambdas/core/eval-judge';
import type { RunView, TraceEvent } from '../lambdas/core/types';
import type { AgentConfig } from '../lib/config';
import { type EngineKnobs, type EngineOptions, LocalEngine } from './engine';
import { DEV_USER_ID } from './server';

/** One case run: its result, the run and its trace (for `--out`). */
export interface CaseRun {
  result: CaseResult;
  run: RunView | null;
  events: TraceEvent[];
}

export interface OfflineSuiteOptions {
  config: AgentConfig;
  cases: EvalCase[];
  /** Cases run at once. */
  concurrency: number;
  /** Passed to the engine (a test's template, `dataDir` to keep the runs). */
  engine?: Partial<EngineOptions>;
  /** The engine's test knobs (a test's retry scale). */
  knobs?: EngineKnobs;
  /** Each case as it finishes. */
  onCase?: (run: CaseRun) => void;
}

/**
 * Runs a suite through the offline engine: one engine for the config, each case a real run of the synthesized state
 * machine (budgets, breakers, tools and taxonomy as deployed), `concurrency` at once. A case with `fixtures` has its
 * tool calls answered from them (through the engine's `wrapTools`, around the call-tool step's tool runner); the
 * others call the real tools.
 */
export async function runSuiteOffline(options: OfflineSuiteOptions): Promise<CaseRun[]> {
  const fixtures = new Map<string, EvalCase['fixtures']>();
  const misses = new Map<string, string[]>();
  const waited = new Map<string, string[]>();
  const reject = { call: (_runId: string, _toolCallId: string): void => undefined };
  const engine = await LocalEngine.start(
    {
      config: options.config,
      ...options.engine,
      // Nobody decides approvals during an eval: a call that waits for one is rejected (the model is told, the run goes
      // on to its end) and the case fails naming it. An approval-required tool never runs unattended.
      onTrace: (runId, event) => {
        options.engine?.onTrace?.(runId, event);
        if (event.type !== 'approval_requested') return;
        waited.set(runId, [...(waited.get(runId) ?? []), `${event.name}(${JSON.stringify(event.arguments)})`]);
        setImmediate(() => reject.call(runId, event.toolCallId));
      },
      wrapTools: (real) =>
        fixtureToolRunner(
          real,
          (runId) => fixtures.get(runId),
          (runId, call) => misses.set(runId, [...(misses.get(runId) ?? []), call]),
        ),
    },
    options.knobs,
  );
  reject.call = (runId, toolCallId) => {
    engine.control
      .decide(runId, toolCallId, { decision: 'reject', reason: 'nobody decides approvals during an eval', decidedBy: 'eval' })
      .catch((err) => engine.runtime.logger.error('eval: rejecting a call waiting for approval failed', { runId, toolCallId, err }));
  };
  try {
    return await runPool(options.cases, options.concurrency, async (c) => {
      // The runs belong to the development-token user, as `agent run`'s do: `agent serve --data <dir>` on an eval's
      // data dir (`agent eval --out`) lists them in the viewer.
      const runId = `eval-${randomUUID()}`;
      if (c.fixtures) fixtures.set(runId, c.fixtures);
      const started = Date.now();
      let run: RunView | null = null;
      let events: TraceEvent[] = [];
      let error: string | undefined;
      try {
        // `outputSchema` as POST /runs passes it on: named as the config's output (docs/agent.md).
        const outputSchema = c.outputSchema && { schema: c.outputSchema, name: options.config.output?.name ?? 'final_answer' };
        const out = await engine.run({ input: c.input, userId: DEV_USER_ID, runId, ...(c.budgets ? { budgets: c.budgets } : {}), ...(outputSchema ? { outputSchema } : {}) });
        run = out.run;
        if (out.error) error = `the execution failed: ${out.error.name}: ${out.error.message}`;
        events = await engine.runtime.runs.listEvents(runId);
      } catch (err) {
        error = `the run could not be made: ${(err as Error).name}: ${(err as Error).message}`;
      }
      const ms = Date.now() - started;
      const observed = observe(run, events, { fixtureMisses: misses.get(runId), approvalsRejected: waited.get(runId), error });
      const model = engine.runtime.model('primary');
      const judge =
        c.expect.judge && model
          ? await judgeAnswer(model, engine.runtime.priceOf?.(options.config.models.primary)?.price, { rubric: c.expect.judge, input: c.input, answer: observed.answer })
          : undefined;
      const result = caseResult(c, observed, ms, run?.runId ?? null, judge);
      const done = { result, run, events };
      options.onCase?.(done);
      return done;
    });
  } finally {
    await engine.close();
  }
}
