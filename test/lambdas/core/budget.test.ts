import { checkBudget, checkTokenBudget, effectiveBudgets, MIN_OUTPUT_TOKENS } from '../../../lambdas/core/budget';

describe('request budgets', () => {
  const deployment = { maxSteps: 20, maxTokens: 100_000 };
  it('lets a request lower the budgets', () => {
    expect(effectiveBudgets(deployment, { maxSteps: 5 })).toEqual({ maxSteps: 5, maxTokens: 100_000 });
  });
  it('refuses a raise and names the ceiling', () => {
    expect(() => effectiveBudgets(deployment, { maxSteps: 21 })).toThrow("budgets.maxSteps may only lower the deployment's budget: at most 20 (got 21)");
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

describe('the dollar budget in the same check', () => {
  // $10 / $30 per million tokens = 10 / 30 micro-dollars a token.
  const price = { inputPerMTokUsd: 10, outputPerMTokUsd: 30 };
  const base = { used: 0, maxTokens: 1_000_000, estimatedPromptTokens: 1000, maxOutputTokens: 1024 };

  it('caps the output to the dollars left after the prompt', () => {
    // 100,000 left − 10,000 for the prompt = 90,000 → 3,000 output tokens, more than the model's 1,024.
    expect(checkBudget({ ...base, cost: { usedMicros: 0, maxMicros: 100_000, price } })).toEqual({ ok: true, maxOutputTokens: 1024 });
    // 20,000 left − 10,000 = 10,000 → 333 output tokens.
    expect(checkBudget({ ...base, cost: { usedMicros: 80_000, maxMicros: 100_000, price } })).toEqual({ ok: true, maxOutputTokens: 333 });
  });

  it('refuses with COST_BUDGET when the prompt and a minimal answer do not fit, saying how much is left', () => {
    const d = checkBudget({ ...base, cost: { usedMicros: 95_000, maxMicros: 100_000, price } });
    expect(d).toMatchObject({ ok: false, reason: 'COST_BUDGET' });
    expect(!d.ok && d.message).toMatch(/costs ~\$0\.01048 and \$0\.005 of \$0\.10 are left/);
  });

  it('checks tokens first and takes the lower of both caps', () => {
    expect(checkBudget({ ...base, used: 999_000, cost: { usedMicros: 0, maxMicros: 1e9, price } })).toMatchObject({ ok: false, reason: 'TOKEN_BUDGET' });
    expect(checkBudget({ ...base, used: 1_000_000 - 1100, cost: { usedMicros: 0, maxMicros: 1e9, price } })).toEqual({ ok: true, maxOutputTokens: 100 });
  });

  it('a free model never runs out of dollars', () => {
    expect(checkBudget({ ...base, cost: { usedMicros: 5, maxMicros: 5, price: { inputPerMTokUsd: 0, outputPerMTokUsd: 0 } } })).toEqual({ ok: true, maxOutputTokens: 1024 });
  });

  it('lets a request lower the dollar budget, never raise it', () => {
    const deployment = { maxSteps: 20, maxTokens: 100_000, maxCostUsd: 0.5 };
    expect(effectiveBudgets(deployment, { maxCostUsd: 0.1 })).toEqual({ ...deployment, maxCostUsd: 0.1 });
    expect(() => effectiveBudgets(deployment, { maxCostUsd: 0.6 })).toThrow("budgets.maxCostUsd may only lower the deployment's budget: at most 0.5 (got 0.6)");
    expect(() => effectiveBudgets(deployment, { maxCostUsd: 0 })).toThrow(/positive number/);
    expect(effectiveBudgets({ maxSteps: 20, maxTokens: 100_000 }, { maxCostUsd: 2 })).toMatchObject({ maxCostUsd: 2 });
  });
});
