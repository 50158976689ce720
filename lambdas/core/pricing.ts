import type { HostedProvider, Usage } from './types';

/**
 * Model prices and the cost of a call. Costs are whole micro-dollars (1 USD = 1,000,000): a price per million
 * tokens in USD is exactly micro-dollars per token, so a call's cost is `tokens × price`, rounded up to a whole
 * micro-dollar, and every sum (run, user, day) is an integer with no float drift.
 */

/** A model's price in US dollars per million tokens. */
export interface ModelPrice {
  inputPerMTokUsd: number;
  outputPerMTokUsd: number;
}

/** When the built-in prices were read from the providers' public price pages. */
export const BUILTIN_PRICES_READ = '2025-08-01';

/**
 * Built-in list prices (standard tier, no batch or cache discounts) of well-known models, by provider, read on
 * BUILTIN_PRICES_READ. A config's `pricing` entry for the same model name wins; docs/spend.md says how to update.
 */
export const BUILTIN_PRICES: Record<HostedProvider, Record<string, ModelPrice>> = {
  openai: {
    'gpt-4o': { inputPerMTokUsd: 2.5, outputPerMTokUsd: 10 },
    'gpt-4o-mini': { inputPerMTokUsd: 0.15, outputPerMTokUsd: 0.6 },
    'gpt-4.1': { inputPerMTokUsd: 2, outputPerMTokUsd: 8 },
    'gpt-4.1-mini': { inputPerMTokUsd: 0.4, outputPerMTokUsd: 1.6 },
    'gpt-4.1-nano': { inputPerMTokUsd: 0.1, outputPerMTokUsd: 0.4 },
    'gpt-5': { inputPerMTokUsd: 1.25, outputPerMTokUsd: 10 },
    'gpt-5-mini': { inputPerMTokUsd: 0.25, outputPerMTokUsd: 2 },
    'gpt-5-nano': { inputPerMTokUsd: 0.05, outputPerMTokUsd: 0.4 },
    o3: { inputPerMTokUsd: 2, outputPerMTokUsd: 8 },
    'o4-mini': { inputPerMTokUsd: 1.1, outputPerMTokUsd: 4.4 },
  },
  anthropic: {
    'claude-opus-4-1': { inputPerMTokUsd: 15, outputPerMTokUsd: 75 },
    'claude-opus-4': { inputPerMTokUsd: 15, outputPerMTokUsd: 75 },
    'claude-sonnet-4': { inputPerMTokUsd: 3, outputPerMTokUsd: 15 },
    'claude-3-7-sonnet': { inputPerMTokUsd: 3, outputPerMTokUsd: 15 },
    'claude-3-5-sonnet': { inputPerMTokUsd: 3, outputPerMTokUsd: 15 },
    'claude-3-5-haiku': { inputPerMTokUsd: 0.8, outputPerMTokUsd: 4 },
    'claude-3-haiku': { inputPerMTokUsd: 0.25, outputPerMTokUsd: 1.25 },
  },
  bedrock: {
    'anthropic.claude-opus-4-1': { inputPerMTokUsd: 15, outputPerMTokUsd: 75 },
    'anthropic.claude-opus-4': { inputPerMTokUsd: 15, outputPerMTokUsd: 75 },
    'anthropic.claude-sonnet-4': { inputPerMTokUsd: 3, outputPerMTokUsd: 15 },
    'anthropic.claude-3-7-sonnet': { inputPerMTokUsd: 3, outputPerMTokUsd: 15 },
    'anthropic.claude-3-5-sonnet': { inputPerMTokUsd: 3, outputPerMTokUsd: 15 },
    'anthropic.claude-3-5-haiku': { inputPerMTokUsd: 0.8, outputPerMTokUsd: 4 },
    'anthropic.claude-3-haiku': { inputPerMTokUsd: 0.25, outputPerMTokUsd: 1.25 },
    'amazon.nova-micro': { inputPerMTokUsd: 0.035, outputPerMTokUsd: 0.14 },
    'amazon.nova-lite': { inputPerMTokUsd: 0.06, outputPerMTokUsd: 0.24 },
    'amazon.nova-pro': { inputPerMTokUsd: 0.8, outputPerMTokUsd: 3.2 },
    'meta.llama3-1-8b-instruct': { inputPerMTokUsd: 0.22, outputPerMTokUsd: 0.22 },
    'meta.llama3-1-70b-instruct': { inputPerMTokUsd: 0.72, outputPerMTokUsd: 0.72 },
  },
};

/** The demo model costs nothing. */
export const FREE: ModelPrice = { inputPerMTokUsd: 0, outputPerMTokUsd: 0 };

/** Where a price came from (shown in the trace). */
export type PriceSource = 'config' | 'builtin' | 'demo';

/**
 * The price of a configured model: the config's `pricing[model]` first, then the built-in table (exact name, or the
 * longest built-in name the configured one extends with a version or date, e.g. `gpt-4o-mini-2024-07-18`,
 * `claude-sonnet-4-20250514`, `us.anthropic.claude-3-5-haiku-20241022-v1:0`), `demo` free; undefined when unknown.
 */
export function priceOf(model: { provider: string; model: string }, pricing: Record<string, ModelPrice> = {}): { price: ModelPrice; source: PriceSource } | undefined {
  const configured = Object.hasOwn(pricing, model.model) ? pricing[model.model] : undefined;
  if (configured) return { price: configured, source: 'config' };
  if (model.provider === 'demo') return { price: FREE, source: 'demo' };
  const table = (BUILTIN_PRICES as Record<string, Record<string, ModelPrice>>)[model.provider];
  if (!table) return undefined;
  // Bedrock cross-region inference profiles prefix the model id with a geography.
  const name = model.provider === 'bedrock' ? model.model.replace(/^(us|eu|apac|us-gov|global)\./, '') : model.model;
  const exact = Object.hasOwn(table, name) ? table[name] : undefined;
  if (exact) return { price: exact, source: 'builtin' };
  const base = Object.keys(table)
    .filter((k) => name.startsWith(`${k}-`) || name.startsWith(`${k}:`))
    .sort((a, b) => b.length - a.length)[0];
  return base ? { price: table[base] as ModelPrice, source: 'builtin' } : undefined;
}

/** The cost of a call in whole micro-dollars (rounded up: a limit is never undercounted). */
export function costMicros(usage: Usage, price: ModelPrice): number {
  const exact = usage.inputTokens * price.inputPerMTokUsd + usage.outputTokens * price.outputPerMTokUsd;
  // Float products like 0.15 × 3 land a hair above the integer; do not round those up.
  return Math.max(0, Math.ceil(exact - 1e-6));
}

export const MICROS_PER_USD = 1_000_000;
/** Dollars → micro-dollars (limits in config are dollars). */
export const toMicros = (usd: number): number => Math.round(usd * MICROS_PER_USD);
/** Micro-dollars → dollars for display (the run's `usage.costUsd`). */
export const toUsd = (micros: number): number => micros / MICROS_PER_USD;
