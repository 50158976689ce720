import { BadRequest } from './errors';

/** The budgets a run is held to. */
export interface Budgets {
  maxSteps: number;
  maxTokens: number;
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
      throw new BadRequest(
        `budgets.${key} may only lower the deployment's budget: at most ${deployment[key]} (got ${value})`,
      );
    }
    out[key] = value;
  }
  return out;
}

export type TokenDecision =
  | { ok: true; maxOutputTokens: number }
  | { ok: false; reason: 'TOKEN_BUDGET'; message: string };

/** Output tokens a call needs at least to be worth making. */
export const MIN_OUTPUT_TOKENS = 16;

/**
 * The one token budget check, made before every model call: if the prompt (estimated) plus a minimal answer
 * cannot fit in what is left, the call is not made; otherwise the call's output is capped to what is left.
 * `reserve` is kept back for a closing summary when the run surrenders.
 */
export function checkTokenBudget(input: {
  used: number;
  maxTokens: number;
  estimatedPromptTokens: number;
  maxOutputTokens: number;
  reserve?: number;
}): TokenDecision {
  const left = input.maxTokens - (input.reserve ?? 0) - input.used;
  const room = left - input.estimatedPromptTokens;
  if (room < MIN_OUTPUT_TOKENS) {
    return {
      ok: false,
      reason: 'TOKEN_BUDGET',
      message: `the next call needs ~${input.estimatedPromptTokens + MIN_OUTPUT_TOKENS} tokens and ${Math.max(left, 0)} of ${input.maxTokens} are left`,
    };
  }
  return { ok: true, maxOutputTokens: Math.min(input.maxOutputTokens, room) };
}
