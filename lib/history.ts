import type { AgentConfig } from './config';

/**
 * Step Functions keeps at most 25,000 events in one execution's history. This bounds the events one loop step can
 * write, worst case, from the definition's shape: a Lambda task writes 5 events (entered, scheduled, started,
 * succeeded, exited) and 3 more per failed attempt; a Choice or Pass writes 2; a Map writes 4 plus 2 per item.
 */
export const HISTORY_LIMIT = 25_000;

const TASK = 5;
const FAILED_ATTEMPT = 3;
const CHOICE = 2;
const MAP = 4;
const MAP_ITEM = 2;

/** Worst-case history events of one loop step: every attempt fails but the last, the fallback runs, every tool call fails over to its error record. */
export function worstCaseEventsPerStep(config: AgentConfig): number {
  const retries = config.retry.maxAttempts - 1;
  const task = TASK + FAILED_ATTEMPT * retries;
  const model = task * (config.models.fallback ? 2 : 1);
  const perTool = MAP_ITEM + task + TASK; // the call, its retries, then RecordToolFailure
  return model + CHOICE + MAP + config.budgets.maxToolCallsPerStep * perTool;
}

/** Worst-case events of a whole run: LoadRun, every step, then a stop (Pass) and the finalize task. */
export function worstCaseHistoryEvents(config: AgentConfig): number {
  return 2 + TASK + config.budgets.maxSteps * worstCaseEventsPerStep(config) + CHOICE + TASK * 2;
}

/** Refuses a step budget that could run an execution into the history limit, naming the numbers. */
export function assertHistoryFits(config: AgentConfig): void {
  const events = worstCaseHistoryEvents(config);
  if (events > HISTORY_LIMIT) {
    const perStep = worstCaseEventsPerStep(config);
    const maxSteps = Math.floor((HISTORY_LIMIT - 2 - TASK * 3 - CHOICE) / perStep);
    throw new Error(
      `budgets.maxSteps ${config.budgets.maxSteps} could write ${events} history events (worst case ${perStep} per step with retry.maxAttempts ${config.retry.maxAttempts} and budgets.maxToolCallsPerStep ${config.budgets.maxToolCallsPerStep}); Step Functions keeps at most ${HISTORY_LIMIT}: lower maxSteps to ${maxSteps} or fewer, or lower maxToolCallsPerStep`,
    );
  }
}
