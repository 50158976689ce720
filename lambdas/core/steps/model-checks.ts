import { type BudgetDecision, checkBudget } from '../budget';
import { BudgetExceeded } from '../errors';
import type { RunRecord } from '../ports';
import { costMicros, type ModelPrice, type PriceSource, toMicros, toUsd } from '../pricing';
import { checkDailyCaps, hasDailyCaps, utcDay } from '../spend';
import { type Tier, trace } from '../trace';
import type { ToolSpec, Usage } from '../types';
import type { LoopDeps } from './state';

/**
 * The checks of the model step before its request (./call-model.ts): the daily caps, the tools offered, and the
 * token and dollar budget of the call.
 */

/**
 * The daily caps before a model call: past a cap the run surrenders (SPEND_LIMIT); past `fallbackAt` of a cap the
 * fallback model answers instead of the primary, and the run records that it degraded. Returns the tier to call.
 */
export async function spendCheck(deps: LoopDeps, run: RunRecord, step: number, tier: Tier, now: Date): Promise<{ tier: Tier; dailyLeft?: DailyLeft }> {
  if (!deps.spend || !deps.caps || !hasDailyCaps(deps.caps)) return { tier };
  const spent = await deps.spend.today(run.userId, utcDay(now));
  const dailyLeft = tighterCap(spent, deps.caps);
  const cap = checkDailyCaps(spent, deps.caps, now);
  if (!cap.ok) {
    await deps.runs.appendEvent(
      run.runId,
      trace.budget({ step, reason: 'SPEND_LIMIT', scope: cap.scope, message: cap.message, userSpendUsd: toUsd(spent.userMicros), totalSpendUsd: toUsd(spent.totalMicros) }),
    );
    throw new BudgetExceeded('SPEND_LIMIT', cap.message);
  }
  if (cap.degrade && tier === 'primary' && deps.model('fallback')) {
    const entry = { dependency: 'model:primary', reason: 'SPEND_FALLBACK', fallback: 'model:fallback' };
    await deps.runs.addDegraded(run.runId, entry);
    await deps.runs.appendEvent(run.runId, trace.fallback({ step, ...entry, cause: `daily spend past ${Math.round((deps.caps.fallbackAt ?? 0) * 100)}% of its cap` }));
    return { tier: 'fallback', dailyLeft };
  }
  return { tier, dailyLeft };
}

/** The day's spend against the cap with the least left (the user's or the deployment's), in micro-dollars. */
export interface DailyLeft {
  usedMicros: number;
  maxMicros: number;
  scope: 'user' | 'total';
}

export function tighterCap(spent: { userMicros: number; totalMicros: number }, caps: NonNullable<LoopDeps['caps']>): DailyLeft | undefined {
  const candidates: DailyLeft[] = [];
  if (caps.dailyUsdPerUser !== undefined) candidates.push({ usedMicros: spent.userMicros, maxMicros: toMicros(caps.dailyUsdPerUser), scope: 'user' });
  if (caps.dailyUsdTotal !== undefined) candidates.push({ usedMicros: spent.totalMicros, maxMicros: toMicros(caps.dailyUsdTotal), scope: 'total' });
  return candidates.sort((a, b) => a.maxMicros - a.usedMicros - (b.maxMicros - b.usedMicros))[0];
}

/** The tools offered to this call; servers that could not be listed are recorded once as degraded. */
export async function offeredTools(deps: LoopDeps, run: RunRecord, step: number): Promise<ToolSpec[]> {
  const tools = deps.listTools ? await deps.listTools() : { specs: deps.toolSpecs, unavailable: [] };
  for (const entry of tools.unavailable) {
    if ((run.degraded ?? []).some((d) => d.dependency === entry.dependency && d.fallback === entry.fallback)) continue;
    await deps.runs.addDegraded(run.runId, entry);
    await deps.runs.appendEvent(run.runId, trace.fallback({ step, ...entry, listing: true }));
    deps.log?.('tools unavailable', { runId: run.runId, step, ...entry });
  }
  // `allow` naming tools the server does not offer: a notice in the trace at the run's first call (not a
  // degradation: the server answers, the config names something it lacks).
  if (step === 1) {
    for (const { dependency, names } of tools.notListed ?? []) {
      await deps.runs.appendEvent(
        run.runId,
        trace.fallback({ step, dependency, reason: 'NOT_LISTED', fallback: 'none', listing: true, cause: `"allow" names ${names.join(', ')}, which the server does not offer` }),
      );
    }
  }
  return tools.specs;
}

/**
 * The token (and dollar) budget before the call: what the output may use, or BudgetExceeded (traced) when the call
 * cannot fit.
 */
export async function tokenBudget(
  deps: LoopDeps,
  run: RunRecord,
  step: number,
  call: { tier: Tier; priced: { price: ModelPrice; source: PriceSource } | undefined; estimated: number; pending?: Usage; dailyLeft?: DailyLeft },
): Promise<Extract<BudgetDecision, { ok: true }>> {
  const { priced, estimated, dailyLeft } = call;
  // Tokens this step already spent before its answer (a context summary, a first answer before its repair).
  const pending = call.pending ?? { inputTokens: 0, outputTokens: 0 };
  const pendingMicros = priced ? costMicros(pending, priced.price) : 0;
  const cost = run.maxCostUsd !== undefined && priced ? { usedMicros: (run.costMicros ?? 0) + pendingMicros, maxMicros: toMicros(run.maxCostUsd), price: priced.price } : undefined;
  // The day's cap is checked as the run's dollar budget is: against the next call's estimate (docs/spend.md).
  const daily = dailyLeft && priced ? { usedMicros: dailyLeft.usedMicros + pendingMicros, maxMicros: dailyLeft.maxMicros, price: priced.price } : undefined;
  const used = run.tokensIn + run.tokensOut + pending.inputTokens + pending.outputTokens;
  const decision = checkBudget({
    used,
    maxTokens: run.maxTokens,
    estimatedPromptTokens: estimated,
    maxOutputTokens: deps.maxOutputTokens(call.tier),
    reserve: Math.floor(run.maxTokens * (deps.reserveRatio ?? 0)),
    cost,
    daily,
  });
  if (decision.ok) return decision;
  await deps.runs.appendEvent(
    run.runId,
    trace.budget({
      step,
      reason: decision.reason,
      message: decision.message,
      estimatedPromptTokens: estimated,
      used,
      maxTokens: run.maxTokens,
      ...(cost ? { costUsd: toUsd(cost.usedMicros), maxCostUsd: run.maxCostUsd } : {}),
    }),
  );
  throw new BudgetExceeded(decision.reason, decision.message);
}
