import { BadRequest } from '../../lambdas/core/errors';
import { testEngine } from '../helpers/engine';

describe('guardrails on the synthesized machine', () => {
  it('stops the repeat demo at the second identical call (keys reordered) with REPETITION', async () => {
    const engine = await testEngine({ models: { primary: { provider: 'demo', model: 'repeat' } } });
    try {
      const { run } = await engine.run({ input: 'How do retries work?' });
      expect(run).toMatchObject({ status: 'UNFINISHED', stopReason: 'REPETITION', steps: 2 });
      const messages = await engine.runtime.runs.listMessages(run.runId);
      const calls = messages.flatMap((m) => (m.message.role === 'assistant' ? m.message.toolCalls : []));
      // The two calls differ in key order only; the repeated one was never run.
      expect(calls.map((c) => JSON.stringify(c.arguments))).toEqual(['{"query":"retry policy","k":2}', '{"k":2,"query":"retry policy"}']);
      expect(messages.filter((m) => m.message.role === 'tool')).toHaveLength(1);
      expect(run.answer).toContain('repeat the same tool call');
      expect(run.answer).toContain('- search_docs:');
      const trace = await engine.runtime.runs.listEvents(run.runId);
      expect(trace.map((e) => e.type)).toEqual(['run_started', 'model_call', 'tool_call', 'model_call', 'surrender', 'run_finished']);
    } finally {
      await engine.close();
    }
  });

  it('honours a request that lowers maxSteps and refuses one that raises it', async () => {
    const engine = await testEngine({ models: { primary: { provider: 'demo', model: 'wander' } }, budgets: { maxSteps: 5 } });
    try {
      const { run } = await engine.run({ input: 'wander', budgets: { maxSteps: 2 } });
      expect(run).toMatchObject({ status: 'UNFINISHED', stopReason: 'STEP_BUDGET', steps: 2 });
      await expect(engine.run({ input: 'wander', budgets: { maxSteps: 6 } })).rejects.toThrow(BadRequest);
      await expect(engine.run({ input: 'wander', budgets: { maxSteps: 6 } })).rejects.toThrow('at most 5 (got 6)');
    } finally {
      await engine.close();
    }
  });

  it('surrenders on the token budget before a call that cannot fit, never crossing it', async () => {
    const engine = await testEngine({ models: { primary: { provider: 'demo', model: 'wander' } }, budgets: { maxSteps: 20, maxTokens: 1500 } });
    try {
      const { run } = await engine.run({ input: 'wander until the tokens run out' });
      expect(run).toMatchObject({ status: 'UNFINISHED', stopReason: 'TOKEN_BUDGET' });
      expect(run.usage.inputTokens + run.usage.outputTokens).toBeLessThanOrEqual(1500);
      expect(run.steps).toBeGreaterThanOrEqual(1);
      const trace = await engine.runtime.runs.listEvents(run.runId);
      const budget = trace.find((e) => e.type === 'budget');
      expect(budget).toMatchObject({ reason: 'TOKEN_BUDGET', maxTokens: 1500 });
      expect(trace.at(-2)).toMatchObject({ type: 'surrender', stopReason: 'TOKEN_BUDGET' });
      expect(trace.at(-1)).toMatchObject({ type: 'run_finished', status: 'UNFINISHED', stopReason: 'TOKEN_BUDGET' });
      // Every model call that was made is in the trace and its usage is what the run recorded.
      const used = trace.filter((e) => e.type === 'model_call').reduce((n, e) => n + (e.usage as { inputTokens: number }).inputTokens, 0);
      expect(used).toBe(run.usage.inputTokens);
    } finally {
      await engine.close();
    }
  });
});
