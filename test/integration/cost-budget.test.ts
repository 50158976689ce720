import type { LocalEngine } from '../../local/engine';
import { type FakeProvider, startFakeProvider } from '../../testing/fake-providers';
import { testEngine } from '../helpers/engine';

/** $10 / $30 per million tokens: 10 and 30 micro-dollars a token. */
const PRICE = { inputPerMTokUsd: 10, outputPerMTokUsd: 30 };

// Synthesizing the template of a new config takes a while on a busy machine: one config for the whole file.
jest.setTimeout(240_000);

describe('the per-run dollar budget against a provider that reports real usage', () => {
  let fake: FakeProvider;
  let engine: LocalEngine;
  beforeAll(async () => {
    fake = await startFakeProvider('openai');
    engine = await testEngine({
      models: { primary: { provider: 'openai', model: 'priced-model', contextWindowTokens: 128_000, baseUrl: fake.baseUrl, timeoutMs: 2000, maxOutputTokens: 1024 } },
      pricing: { 'priced-model': PRICE },
      budgets: { maxCostUsd: 0.2, maxTokens: 1_000_000, maxSteps: 50 },
    });
  });
  afterAll(async () => {
    await engine.close();
    await fake.close();
  });
  beforeEach(() => fake.reset());

  const forever = (usage: { input: number; output: number }) => {
    let n = 0;
    fake.respondWith(() => ({ kind: 'tools', calls: [{ name: 'calculator', args: { expression: `${++n} + 1` } }], usage }));
  };

  it('stops UNFINISHED / COST_BUDGET within one call’s estimation error of the budget, each call priced in the trace', async () => {
    // The provider counts 1,500 input tokens for prompts we estimate at a few hundred, and uses all the output allowed.
    forever({ input: 1500, output: 5000 });
    {
      const { run } = await engine.run({ input: 'Count forever.' });
      expect(run).toMatchObject({ status: 'UNFINISHED', stopReason: 'COST_BUDGET' });
      expect(run.answer).toContain('cost budget');
      const trace = await engine.runtime.runs.listEvents(run.runId);
      const calls = trace.filter((e) => e.type === 'model_call') as unknown as {
        costUsd: number;
        usage: { inputTokens: number; outputTokens: number };
        estimatedPromptTokens: number;
        maxOutputTokens: number;
        priceSource: string;
      }[];
      expect(calls.length).toBeGreaterThan(2);
      // Every call's cost is its usage at the configured price; the run's cost is their sum.
      for (const c of calls) {
        expect(c.priceSource).toBe('config');
        expect(c.costUsd).toBeCloseTo((c.usage.inputTokens * 10 + c.usage.outputTokens * 30) / 1e6, 9);
      }
      const sum = calls.reduce((a, c) => a + c.costUsd, 0);
      expect(run.usage.costUsd).toBeCloseTo(sum, 9);
      // The output of the last call was capped to what was left of the dollars.
      expect(calls.at(-1)!.maxOutputTokens).toBeLessThan(1024);
      expect(calls.map((_c, i) => fake.requests[i]?.body.max_tokens)).toEqual(calls.map((c) => c.maxOutputTokens));
      // Over the budget only by the last prompt's estimation error (its input tokens we did not foresee).
      const last = calls.at(-1)!;
      const estimationErrorUsd = ((last.usage.inputTokens - last.estimatedPromptTokens) * 10) / 1e6;
      expect(run.usage.costUsd - 0.2).toBeLessThanOrEqual(estimationErrorUsd + 1e-9);
      expect(trace.find((e) => e.type === 'budget')).toMatchObject({ reason: 'COST_BUDGET', maxCostUsd: 0.2 });
      expect(trace.at(-1)).toMatchObject({ type: 'run_finished', status: 'UNFINISHED', stopReason: 'COST_BUDGET', usage: { costUsd: run.usage.costUsd } });
    }
  });

  it('lets a request lower the dollar budget, never raise it', async () => {
    forever({ input: 100, output: 100 });
    await expect(engine.run({ input: 'x', budgets: { maxCostUsd: 0.3 } })).rejects.toThrow(/may only lower.*at most 0.2/);
    const { run } = await engine.run({ input: 'Count forever.', budgets: { maxCostUsd: 0.02 } });
    expect(run.stopReason).toBe('COST_BUDGET');
    // 100 in + 100 out = $0.004 a call: a few calls, never past the lowered budget by more than a call's estimate error.
    expect(run.usage.costUsd).toBeGreaterThan(0.01);
    expect(run.usage.costUsd).toBeLessThanOrEqual(0.02);
  });
});
