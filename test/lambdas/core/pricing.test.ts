import { BUILTIN_PRICES, BUILTIN_PRICES_READ, costMicros, priceOf, toMicros, toUsd } from '../../../lambdas/core/pricing';

describe('model prices', () => {
  it('takes the config price first, then the built-in price, and the demo model is free', () => {
    const pricing = { 'gpt-4o-mini': { inputPerMTokUsd: 1, outputPerMTokUsd: 2 }, 'my-llama': { inputPerMTokUsd: 0.1, outputPerMTokUsd: 0.2 } };
    expect(priceOf({ provider: 'openai', model: 'gpt-4o-mini' }, pricing)).toEqual({ price: { inputPerMTokUsd: 1, outputPerMTokUsd: 2 }, source: 'config' });
    expect(priceOf({ provider: 'openai', model: 'gpt-4o-mini' })).toEqual({ price: BUILTIN_PRICES.openai['gpt-4o-mini'], source: 'builtin' });
    expect(priceOf({ provider: 'openai', model: 'my-llama' }, pricing)?.source).toBe('config');
    expect(priceOf({ provider: 'demo', model: 'default' })).toEqual({ price: { inputPerMTokUsd: 0, outputPerMTokUsd: 0 }, source: 'demo' });
    expect(priceOf({ provider: 'openai', model: 'my-llama' })).toBeUndefined();
  });

  it('matches dated and versioned names to the longest built-in family, Bedrock geography prefixes included', () => {
    expect(priceOf({ provider: 'openai', model: 'gpt-4o-mini-2024-07-18' })?.price).toEqual(BUILTIN_PRICES.openai['gpt-4o-mini']);
    expect(priceOf({ provider: 'openai', model: 'gpt-4o-2024-08-06' })?.price).toEqual(BUILTIN_PRICES.openai['gpt-4o']);
    expect(priceOf({ provider: 'anthropic', model: 'claude-sonnet-4-20250514' })?.price).toEqual(BUILTIN_PRICES.anthropic['claude-sonnet-4']);
    expect(priceOf({ provider: 'anthropic', model: 'claude-opus-4-1-20250805' })?.price).toEqual(BUILTIN_PRICES.anthropic['claude-opus-4-1']);
    expect(priceOf({ provider: 'bedrock', model: 'us.anthropic.claude-3-5-haiku-20241022-v1:0' })?.price).toEqual(BUILTIN_PRICES.bedrock['anthropic.claude-3-5-haiku']);
    expect(priceOf({ provider: 'bedrock', model: 'amazon.nova-lite-v1:0' })?.price).toEqual(BUILTIN_PRICES.bedrock['amazon.nova-lite']);
    // A name that only shares a prefix without a separator is not the same model.
    expect(priceOf({ provider: 'openai', model: 'gpt-4omega' })).toBeUndefined();
    // Not fooled by the object prototype.
    expect(priceOf({ provider: 'openai', model: 'constructor' })).toBeUndefined();
    expect(BUILTIN_PRICES_READ).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  });

  it('costs a call in whole micro-dollars, rounded up, without float drift', () => {
    // $0.15 / $0.60 per million: 1,000 in + 500 out = 150 + 300 micro-dollars.
    expect(costMicros({ inputTokens: 1000, outputTokens: 500 }, { inputPerMTokUsd: 0.15, outputPerMTokUsd: 0.6 })).toBe(450);
    expect(costMicros({ inputTokens: 3, outputTokens: 0 }, { inputPerMTokUsd: 0.15, outputPerMTokUsd: 0.6 })).toBe(1);
    expect(costMicros({ inputTokens: 1, outputTokens: 1 }, { inputPerMTokUsd: 0.035, outputPerMTokUsd: 0.14 })).toBe(1);
    expect(costMicros({ inputTokens: 0, outputTokens: 0 }, { inputPerMTokUsd: 3, outputPerMTokUsd: 15 })).toBe(0);
    let sum = 0;
    for (let i = 0; i < 1000; i++) sum += costMicros({ inputTokens: 1, outputTokens: 0 }, { inputPerMTokUsd: 0.1, outputPerMTokUsd: 0 });
    expect(sum).toBe(1000);
    expect(toMicros(0.1)).toBe(100_000);
    expect(toUsd(123_456)).toBe(0.123456);
  });
});
