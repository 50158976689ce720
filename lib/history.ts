import type { AgentConfig } from './config';

/**
 * Step Functions keeps at most 25,000 events in one execution's history; past it the execution fails
 * (States.Runtime; the offline engine enforces it as AWS does: local/limits.ts). This bounds the events one loop step
 * can write, worst case, from the definition's shape: a Lambda task writes 5 events (entered, scheduled, started,
 * succeeded, exited) and 3 more per failed attempt; a Choice or Pass writes 2; a Map writes 4 plus 2 per item. The
 * offline engine counts each execution's history the same way, and test/integration/limits.test.ts checks this bound
 * against what it measures on the worst path.
 */
export const HISTORY_LIMIT = 25_000;

const TASK = 5;
const FAILED_ATTEMPT = 3;
const CHOICE = 2;
const MAP = 4;
const MAP_ITEM = 2;

/** A Lambda task whose every attempt fails but the last (or whose last failure is caught): the same count. */
function worstCaseTask(config: AgentConfig): number {
  return TASK + FAILED_ATTEMPT * (config.retry.maxAttempts - 1);
}

/** Worst-case history events of one loop step: every attempt fails but the last, the fallback runs, every tool call fails over to its error record. */
export function worstCaseEventsPerStep(config: AgentConfig): number {
  const task = worstCaseTask(config);
  const model = task * (config.models.fallback ? 2 : 1);
  const perTool = MAP_ITEM + task + task; // the call and its retries, then RecordToolFailure and its retries
  return model + CHOICE + MAP + config.budgets.maxToolCallsPerStep * perTool;
}

/** Worst-case events of everything around the steps: the execution's start and end, LoadRun, the first Route, a stop (Pass) and the finalize task. */
function worstCaseFrame(config: AgentConfig): number {
  return 2 + worstCaseTask(config) + CHOICE + CHOICE + worstCaseTask(config);
}

/** Worst-case events of a whole run: LoadRun, every step, then a stop (Pass) and the finalize task. */
export function worstCaseHistoryEvents(config: AgentConfig): number {
  return worstCaseFrame(config) + config.budgets.maxSteps * worstCaseEventsPerStep(config);
}

/** Refuses a step budget that could run an execution into the history limit, naming the numbers. */
export function assertHistoryFits(config: AgentConfig): void {
  const events = worstCaseHistoryEvents(config);
  if (events > HISTORY_LIMIT) {
    const perStep = worstCaseEventsPerStep(config);
    const maxSteps = Math.floor((HISTORY_LIMIT - worstCaseFrame(config)) / perStep);
    throw new Error(
      `budgets.maxSteps ${config.budgets.maxSteps} could write ${events} history events (worst case ${perStep} per step with retry.maxAttempts ${config.retry.maxAttempts} and budgets.maxToolCallsPerStep ${config.budgets.maxToolCallsPerStep}); Step Functions keeps at most ${HISTORY_LIMIT}: lower maxSteps to ${maxSteps} or fewer, or lower maxToolCallsPerStep`,
    );
  }
}
