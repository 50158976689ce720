import {
  comparePaths,
  comparePrompts,
  pathOf,
  type RecordedRun,
  type ReplayVerdict,
  recordedDependencies,
  recordedHistory,
  recordedUnavailableTools,
} from '../lambdas/core/replay';
import { ofKind } from '../lambdas/core/trace';
import type { RunView } from '../lambdas/core/types';
import { type AgentConfig, parseConfig } from '../lib/config';
import { LocalEngine } from './engine';

export interface ReplayResult {
  verdict: ReplayVerdict;
  replayed: RunView;
}

/**
 * Re-runs a recorded run through the current definition in a fresh in-memory engine, the model's and the tools'
 * outputs served from the recording, and compares the paths (same calls per step, same status and stop reason).
 */
export async function replayRun(recorded: RecordedRun, config: AgentConfig): Promise<ReplayResult> {
  const started = recorded.events.find(ofKind('run_started'));
  const input = started?.input ?? '';
  const budgets = { maxSteps: started?.maxSteps ?? config.budgets.maxSteps, maxTokens: started?.maxTokens ?? config.budgets.maxTokens };
  const fallbackUsed = recorded.events.filter(ofKind('model_call')).some((e) => e.tier === 'fallback');
  const replayConfig = parseConfig({
    ...config,
    // Budgets of the recording (the deployment's ceiling must admit them); no breaker: recorded failures replay as they were.
    budgets: { ...config.budgets, maxSteps: Math.max(budgets.maxSteps, 1), maxTokens: budgets.maxTokens, allowHighStepBudget: true },
    breaker: { ...config.breaker, enabled: false },
    models: { primary: config.models.primary, ...(fallbackUsed || config.models.fallback ? { fallback: config.models.fallback ?? config.models.primary } : {}) },
  });
  const engine = await LocalEngine.start({ config: replayConfig, overrides: recordedDependencies(recorded) }, { retryScale: 0 });
  // The tools offered: the configured ones without asking any MCP server; the servers the recording could not list
  // are reported as it reported them (the model's and the tools' outputs come from the recording anyway).
  const unavailable = recordedUnavailableTools(recorded);
  engine.runtime.listTools = async () => ({ specs: engine.runtime.toolSpecs, unavailable });
  // A thread run is sent its earlier runs' conversation first (docs/threads.md "History"), rebuilt from their recordings.
  const history = recordedHistory(recorded);
  if (history.length) {
    const runs = engine.runtime.runs;
    engine.runtime.history = async (run) => [...history, ...(await runs.listMessages(run.runId))];
  }
  try {
    // The recorded run's own output schema (a request's `outputSchema`), so its structured ending replays too.
    const outputSchema = started?.outputSchema ? { schema: started.outputSchema.schema, name: started.outputSchema.name } : undefined;
    const { run } = await engine.run({ input, budgets, runId: `replay-${recorded.run.runId}`.slice(0, 80), ...(outputSchema ? { outputSchema } : {}) });
    const events = await engine.runtime.runs.listEvents(run.runId);
    const verdict = comparePaths(pathOf(recorded.events, recorded.run), pathOf(events, run));
    return { verdict: verdict.matched ? comparePrompts(recorded.events, events) : verdict, replayed: run };
  } finally {
    await engine.close();
  }
}
