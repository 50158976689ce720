import { type FakeProvider, startFakeProvider } from '../../testing/fake-providers';
import { testEngine } from '../helpers/engine';

describe('the token budget against a provider that reports large usage', () => {
  let fake: FakeProvider;
  beforeAll(async () => {
    fake = await startFakeProvider('openai');
  });
  afterAll(async () => fake.close());
  beforeEach(() => {
    fake.requests.length = 0;
  });

  it('stops with TOKEN_BUDGET before a call that cannot fit, caps each call to what is left, never crossing the budget', async () => {
    // Never finishes; every answer uses all the output tokens it is allowed (up to 2,000).
    let n = 0;
    fake.setDefault({ kind: 'text', text: 'unused' });
    fake.script(
      ...Array.from({ length: 10 }, () => ({ kind: 'tools' as const, calls: [{ name: 'calculator', args: { expression: `${++n} + 1` } }], usage: { input: 50, output: 2000 } })),
    );
    const engine = await testEngine({
      models: { primary: { provider: 'openai', model: 'big', contextWindowTokens: 128_000, baseUrl: fake.baseUrl, timeoutMs: 2000, maxOutputTokens: 1024 } },
      budgets: { maxTokens: 5000 },
    });
    try {
      const { run } = await engine.run({ input: 'Count forever.' });
      expect(run).toMatchObject({ status: 'UNFINISHED', stopReason: 'TOKEN_BUDGET' });
      expect(run.usage.inputTokens + run.usage.outputTokens).toBeLessThanOrEqual(5000);
      const trace = await engine.runtime.runs.listEvents(run.runId);
      const calls = trace.filter((e) => e.type === 'model_call') as unknown as { estimatedPromptTokens: number; maxOutputTokens: number }[];
      expect(fake.requests).toHaveLength(calls.length);
      expect(calls.length).toBe(run.steps);
      // Each call's max output tokens was what was left of the budget (the last one less than the model's 1,024).
      expect(calls.map((_c, i) => fake.requests[i]?.body.max_tokens)).toEqual(calls.map((c) => c.maxOutputTokens));
      expect(calls.at(-1)!.maxOutputTokens).toBeLessThan(1024);
      const refused = trace.find((e) => e.type === 'budget');
      expect(refused).toMatchObject({ reason: 'TOKEN_BUDGET', maxTokens: 5000 });
      expect(trace.at(-2)).toMatchObject({ type: 'surrender', stopReason: 'TOKEN_BUDGET' });
      expect(trace.at(-1)).toMatchObject({ type: 'run_finished', status: 'UNFINISHED', stopReason: 'TOKEN_BUDGET' });
      const messages = await engine.runtime.runs.listMessages(run.runId);
      expect(messages.filter((m) => m.message.role === 'assistant')).toHaveLength(run.steps);
      expect(run.answer).toContain('token budget');
    } finally {
      await engine.close();
    }
  });

  it('may pass the budget only by the estimation error of the last prompt', async () => {
    // A provider that counts 3,000 input tokens for a prompt we estimate at a few hundred.
    let n = 0;
    fake.script(
      ...Array.from({ length: 10 }, () => ({ kind: 'tools' as const, calls: [{ name: 'calculator', args: { expression: `${++n} * 2` } }], usage: { input: 3000, output: 200 } })),
    );
    const engine = await testEngine({
      models: { primary: { provider: 'openai', model: 'big', contextWindowTokens: 128_000, baseUrl: fake.baseUrl, timeoutMs: 2000 } },
      budgets: { maxTokens: 8000 },
    });
    try {
      const { run } = await engine.run({ input: 'Count forever.' });
      expect(run.stopReason).toBe('TOKEN_BUDGET');
      const trace = await engine.runtime.runs.listEvents(run.runId);
      const last = trace.filter((e) => e.type === 'model_call').at(-1) as unknown as { usage: { inputTokens: number }; estimatedPromptTokens: number };
      const estimationError = last.usage.inputTokens - last.estimatedPromptTokens;
      const total = run.usage.inputTokens + run.usage.outputTokens;
      expect(total).toBeGreaterThan(8000);
      expect(total - 8000).toBeLessThanOrEqual(estimationError);
    } finally {
      await engine.close();
    }
  });
});
