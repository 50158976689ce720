import { BadRequest } from './errors';
import type { ModelPrice } from './pricing';

/** The budgets a run is held to. */
export interface Budgets {
  maxSteps: number;
  maxTokens: number;
  /** Model spend of the run in US dollars; none when absent. */
  maxCostUsd?: number;
}

/**
 * The budgets of one request: a request may lower the deployment's budgets, never raise them. A raise is a
 * BadRequest that names the ceiling.
 */
export function effectiveBudgets(deployment: Budgets, requested?: Partial<Budgets>): Budgets {
  const out = { ...deployment };
  for (const key of ['maxSteps', 'maxTokens'] as const) {
    const value = requested?.[key];
    if (value === undefined) continue;
    if (!Number.isInteger(value) || value < 1) {
      throw new BadRequest(`budgets.${key} must be a whole number of at least 1 (got ${value})`);
    }
    if (value > deployment[key]) {
      throw new BadRequest(`budgets.${key} may only lower the deployment's budget: at most ${deployment[key]} (got ${value})`);
    }
    out[key] = value;
  }
  const cost = requested?.maxCostUsd;
  if (cost !== undefined) {
    if (typeof cost !== 'number' || !Number.isFinite(cost) || cost <= 0) throw new BadRequest(`budgets.maxCostUsd must be a positive number of dollars (got ${cost})`);
    if (deployment.maxCostUsd !== undefined && cost > deployment.maxCostUsd) {
      throw new BadRequest(`budgets.maxCostUsd may only lower the deployment's budget: at most ${deployment.maxCostUsd} (got ${cost})`);
    }
    out.maxCostUsd = cost;
  }
  return out;
}

export type BudgetDecision = { ok: true; maxOutputTokens: number } | { ok: false; reason: 'TOKEN_BUDGET' | 'COST_BUDGET' | 'SPEND_LIMIT'; message: string };
export type TokenDecision = BudgetDecision;

/** Output tokens a call needs at least to be worth making. */
export const MIN_OUTPUT_TOKENS = 16;

/** A run's spend so far and its limit, in micro-dollars, with the price of the model about to be called. */
export interface CostInput {
  usedMicros: number;
  maxMicros: number;
  price: ModelPrice;
}

const dollars = (micros: number) => `$${(Math.max(micros, 0) / 1e6).toFixed(6).replace(/0{1,4}$/, '')}`;

/**
 * The one budget check, made before every model call, for tokens and (when the run has a dollar budget) cost alike:
 * if the prompt (estimated) plus a minimal answer cannot fit in what is left, the call is not made; otherwise the
 * call's output is capped to what is left of both. `reserve` (tokens) is kept back for a closing summary when the
 * run surrenders. Cost is in whole micro-dollars: a price per million tokens is micro-dollars per token.
 */
export function checkBudget(input: {
  used: number;
  maxTokens: number;
  estimatedPromptTokens: number;
  maxOutputTokens: number;
  reserve?: number;
  cost?: CostInput;
  /**
   * What is left of the day's spend cap (the tighter of the user's and the deployment's), as a cost limit: the call
   * that cannot fit in it is not made (SPEND_LIMIT), and its output is capped to what is left.
   */
  daily?: CostInput;
}): BudgetDecision {
  const left = input.maxTokens - (input.reserve ?? 0) - input.used;
  const room = left - input.estimatedPromptTokens;
  if (room < MIN_OUTPUT_TOKENS) {
    return {
      ok: false,
      reason: 'TOKEN_BUDGET',
      message: `the next call needs ~${input.estimatedPromptTokens + MIN_OUTPUT_TOKENS} tokens and ${Math.max(left, 0)} of ${input.maxTokens} are left`,
    };
  }
  let maxOutputTokens = Math.min(input.maxOutputTokens, room);
  const limits = [
    { cost: input.cost, reason: 'COST_BUDGET' as const, what: '' },
    { cost: input.daily, reason: 'SPEND_LIMIT' as const, what: ' of the daily spend limit' },
  ];
  for (const { cost, reason, what } of limits) {
    if (!cost) continue;
    const { usedMicros, maxMicros, price } = cost;
    const leftMicros = maxMicros - usedMicros;
    const promptMicros = input.estimatedPromptTokens * price.inputPerMTokUsd;
    const minimal = promptMicros + MIN_OUTPUT_TOKENS * price.outputPerMTokUsd;
    if (leftMicros < minimal) {
      return { ok: false, reason, message: `the next call costs ~${dollars(Math.ceil(minimal))} and ${dollars(leftMicros)} of ${dollars(maxMicros)}${what} are left` };
    }
    if (price.outputPerMTokUsd > 0) maxOutputTokens = Math.min(maxOutputTokens, Math.floor((leftMicros - promptMicros) / price.outputPerMTokUsd));
  }
  return { ok: true, maxOutputTokens };
}

/** The token budget check (the same check as checkBudget; the name the token budget was introduced with). */
export const checkTokenBudget = checkBudget;
