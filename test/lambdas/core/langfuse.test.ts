import { toLangfuseBatch } from '../../../lambdas/core/langfuse';

describe('the Langfuse export of cost', () => {
  it('puts each model call’s cost in Langfuse’s cost fields, so Langfuse does not re-price it', () => {
    const run = {
      runId: 'r1',
      threadId: null,
      userId: 'u1',
      status: 'SUCCEEDED' as const,
      answer: 'a',
      stopReason: null,
      steps: 1,
      usage: { inputTokens: 1000, outputTokens: 500, costUsd: 0.025 },
      degraded: [],
      pendingApprovals: [],
      createdAt: '2026-01-01T00:00:00.000Z',
      updatedAt: '2026-01-01T00:00:01.000Z',
    };
    const batch = toLangfuseBatch(run, [
      {
        type: 'model_call',
        at: '2026-01-01T00:00:00.500Z',
        step: 1,
        tier: 'primary',
        provider: 'openai',
        model: 'gpt-4o-mini',
        latencyMs: 100,
        estimatedPromptTokens: 1000,
        usage: { inputTokens: 1000, outputTokens: 500 },
        costUsd: 0.025,
      },
    ]);
    const generation = batch.find((e) => e.type === 'generation-create')!;
    expect(generation.body).toMatchObject({ usage: { input: 1000, output: 500, unit: 'TOKENS', totalCost: 0.025 }, costDetails: { total: 0.025 } });
    expect(batch[0]!.body.metadata).toMatchObject({ usage: { costUsd: 0.025 } });
  });
});
