import { ofKind } from '../../lambdas/core/trace';
import { testEngine } from '../helpers/engine';

describe('model degradation on the synthesized machine', () => {
  it('retries a failing primary, then answers through the fallback model and says so', async () => {
    const engine = await testEngine({
      models: { primary: { provider: 'demo', model: 'fail' }, fallback: { provider: 'demo', model: 'default' } },
      retry: { maxAttempts: 3 },
    });
    try {
      const { run, events } = await engine.run({ input: 'What is 12.5% of 3480?' });
      expect(run.status).toBe('DEGRADED');
      expect(run.answer).toContain('435');
      expect(run.answer).toMatch(/^Note: the primary model was unavailable \(TransientError\); a smaller fallback model answered/);
      expect(run.degraded).toEqual([{ dependency: 'model:primary', reason: 'TransientError', fallback: 'model:fallback' }]);
      // 3 attempts per step on the primary (2 retries), then the fallback; two steps.
      const retried = events.filter((e) => e.type === 'StateRetried' && e.state.name === 'CallModel');
      expect(retried).toHaveLength(4);
      const trace = await engine.runtime.runs.listEvents(run.runId);
      const primaryCalls = trace.filter(ofKind('model_call')).filter((e) => e.tier === 'primary');
      // Five failures open the primary's breaker (threshold 5): the sixth attempt is refused without a call.
      expect(primaryCalls.map((e) => e.error?.name)).toEqual([...Array(5).fill('TransientError'), 'CircuitOpen']);
      expect(trace.filter((e) => e.type === 'breaker')).toEqual([expect.objectContaining({ dependency: 'model:primary', from: 'CLOSED', to: 'OPEN', step: 2 })]);
      expect(trace.filter((e) => e.type === 'fallback')).toHaveLength(2);
    } finally {
      await engine.close();
    }
  });

  it('with both models down, ends DEGRADED with a partial answer and nothing thrown to the caller', async () => {
    const engine = await testEngine({
      models: { primary: { provider: 'demo', model: 'fail' }, fallback: { provider: 'demo', model: 'fail' } },
      retry: { maxAttempts: 2 },
    });
    try {
      const result = await engine.run({ input: 'What is 2 + 2?' });
      expect(result.error).toBeUndefined();
      expect(result.run.status).toBe('DEGRADED');
      expect(result.run.stopReason).toBe('MODELS_UNAVAILABLE');
      expect(result.run.answer).toContain('the fallback model was unavailable');
      expect(result.run.answer).toContain('I have no partial results to share.');
      expect(result.run.answer).not.toMatch(/at \S+\.ts:\d+/); // never a stack trace
      expect(result.run.degraded.map((d) => d.fallback)).toEqual(['model:fallback', 'partial-answer']);
    } finally {
      await engine.close();
    }
  });
});
