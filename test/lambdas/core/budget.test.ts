import { checkTokenBudget, effectiveBudgets, MIN_OUTPUT_TOKENS } from '../../../lambdas/core/budget';

describe('request budgets', () => {
  const deployment = { maxSteps: 20, maxTokens: 100_000 };
  it('lets a request lower the budgets', () => {
    expect(effectiveBudgets(deployment, { maxSteps: 5 })).toEqual({ maxSteps: 5, maxTokens: 100_000 });
  });
  it('refuses a raise and names the ceiling', () => {
    expect(() => effectiveBudgets(deployment, { maxSteps: 21 })).toThrow('budgets.maxSteps may only lower the deployment\'s budget: at most 20 (got 21)');
    expect(() => effectiveBudgets(deployment, { maxTokens: 0 })).toThrow(/at least 1/);
  });
});

describe('the token budget check', () => {
  it('caps the output to what is left', () => {
    expect(checkTokenBudget({ used: 900, maxTokens: 1000, estimatedPromptTokens: 50, maxOutputTokens: 1024 })).toEqual({ ok: true, maxOutputTokens: 50 });
    expect(checkTokenBudget({ used: 0, maxTokens: 100_000, estimatedPromptTokens: 50, maxOutputTokens: 1024 })).toEqual({ ok: true, maxOutputTokens: 1024 });
  });
  it('refuses a call whose prompt cannot fit with a minimal answer', () => {
    const d = checkTokenBudget({ used: 960, maxTokens: 1000, estimatedPromptTokens: 30, maxOutputTokens: 1024 });
    expect(d.ok).toBe(false);
    expect(MIN_OUTPUT_TOKENS).toBeGreaterThan(10);
  });
  it('keeps the surrender reserve out of reach', () => {
    expect(checkTokenBudget({ used: 0, maxTokens: 1000, estimatedPromptTokens: 850, maxOutputTokens: 1024, reserve: 200 }).ok).toBe(false);
  });
});

describe('token estimation', () => {
  it('counts English close to the tokenizer and stays fast on long runs without spaces', async () => {
    const { countTokens } = await import('../../../lambdas/core/tokens');
    expect(countTokens('What is 12.5% of 3480?')).toBeGreaterThan(5);
    expect(countTokens('What is 12.5% of 3480?')).toBeLessThan(15);
    const blob = 'x'.repeat(200_000);
    const n = countTokens(blob);
    expect(n).toBeGreaterThan(200_000 / 16);
    expect(n).toBeLessThan(200_000);
  });
});
