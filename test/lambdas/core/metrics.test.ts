import { metricsOf } from '../../../lambdas/core/metrics';

describe('metrics derived from the trace', () => {
  it('counts tokens and latency of model calls, and errors by name', () => {
    expect(
      metricsOf({
        type: 'model_call',
        at: 'x',
        step: 1,
        tier: 'primary',
        provider: 'demo',
        model: 'default',
        estimatedPromptTokens: 10,
        usage: { inputTokens: 10, outputTokens: 3 },
        latencyMs: 42,
      }),
    ).toEqual([
      { name: 'ModelCalls', unit: 'Count', value: 1, dimension: { name: 'Tier', value: 'primary' } },
      { name: 'ModelInputTokens', unit: 'Count', value: 10 },
      { name: 'ModelOutputTokens', unit: 'Count', value: 3 },
      { name: 'ModelLatency', unit: 'Milliseconds', value: 42 },
    ]);
    expect(
      metricsOf({
        type: 'model_call',
        at: 'x',
        step: 1,
        tier: 'primary',
        provider: 'demo',
        model: 'default',
        estimatedPromptTokens: 10,
        latencyMs: 42,
        error: { name: 'TimeoutError', message: 'timed out' },
      }),
    ).toContainEqual({
      name: 'ModelErrors',
      unit: 'Count',
      value: 1,
      dimension: { name: 'Error', value: 'TimeoutError' },
    });
  });
  it('counts surrenders by reason, breaker opens, fallbacks and finished runs', () => {
    expect(metricsOf({ type: 'surrender', at: 'x', step: 3, stopReason: 'STEP_BUDGET' })).toEqual([
      { name: 'Surrenders', unit: 'Count', value: 1, dimension: { name: 'Reason', value: 'STEP_BUDGET' } },
    ]);
    expect(metricsOf({ type: 'breaker', at: 'x', step: 1, dependency: 'model:primary', from: 'CLOSED', to: 'OPEN', reason: 'failures' })[0]?.name).toBe('BreakerOpened');
    expect(metricsOf({ type: 'breaker', at: 'x', step: 1, dependency: 'model:primary', from: 'OPEN', to: 'HALF_OPEN', reason: 'cool-down over' })).toEqual([]);
    expect(metricsOf({ type: 'fallback', at: 'x', step: 1, dependency: 'tool:retrieve', reason: 'TimeoutError', fallback: 'keyword' })[0]).toMatchObject({ name: 'Fallbacks' });
    expect(metricsOf({ type: 'run_finished', at: 'x', step: 4, status: 'SUCCEEDED', stopReason: null, usage: { inputTokens: 5, outputTokens: 5 } }).map((m) => m.name)).toEqual([
      'RunsFinished',
      'RunSteps',
      'RunTokens',
    ]);
  });
  it('publishes each call’s cost in micro-dollars and counts runs killed by admins', () => {
    expect(
      metricsOf({
        type: 'model_call',
        at: 'x',
        step: 1,
        tier: 'primary',
        provider: 'demo',
        model: 'default',
        estimatedPromptTokens: 10,
        latencyMs: 42,
        usage: { inputTokens: 10, outputTokens: 3 },
        costUsd: 0.04572,
      }),
    ).toContainEqual({ name: 'ModelCostMicroUsd', unit: 'Count', value: 45_720 });
    expect(metricsOf({ type: 'cancelled', at: 'x', step: 2, stopReason: 'KILLED' }).map((m) => m.name)).toContain('RunsKilled');
    expect(metricsOf({ type: 'cancelled', at: 'x', step: 2, stopReason: 'CANCELLED' }).map((m) => m.name)).not.toContain('RunsKilled');
  });
  it('counts a context summary as a model call with its tokens and cost; a compaction without one as nothing', () => {
    const compacted = {
      type: 'context_compacted' as const,
      at: 'x',
      step: 9,
      tier: 'primary' as const,
      model: 'openai/m',
      reason: 'window' as const,
      windowTokens: 8000,
      tokensBefore: 9000,
      tokensAfter: 4000,
      elidedThroughStep: 7,
    };
    expect(metricsOf(compacted)).toEqual([]);
    expect(metricsOf({ ...compacted, summarizedThroughStep: 5, summary: { text: 's', usage: { inputTokens: 700, outputTokens: 30 }, costUsd: 0.000123 } })).toEqual([
      { name: 'ModelCalls', unit: 'Count', value: 1, dimension: { name: 'Tier', value: 'primary' } },
      { name: 'ModelInputTokens', unit: 'Count', value: 700 },
      { name: 'ModelOutputTokens', unit: 'Count', value: 30 },
      { name: 'ModelCostMicroUsd', unit: 'Count', value: 123 },
    ]);
  });
});
