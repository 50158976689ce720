import type { RunUpdates } from '../control';
import { RunStopped } from '../errors';
import type { RunRepository } from '../ports';
import { trace } from '../trace';
import { isFinal, type LoopState, mustGetRun } from './state';

export interface PauseInput {
  state: LoopState;
  taskToken: string;
}

/** The Pause state: stores the task token on the run and marks it PAUSED; the execution waits for the token. */
export async function pauseRun(deps: { runs: RunRepository & RunUpdates }, input: PauseInput): Promise<{ paused: boolean }> {
  const { runId, step, toolCount } = input.state;
  const updated = await deps.runs.updateRun(runId, { status: 'PAUSED', taskToken: input.taskToken, pauseRequested: false }, { statusIn: ['RUNNING'] });
  if (!updated) return notPaused(deps.runs, runId);
  await deps.runs.appendEvent(runId, trace.paused({ step, pendingToolCalls: toolCount }));
  return { paused: true };
}

/**
 * The run is not RUNNING any more: a final run (cancelled meanwhile) leaves the loop at once (the Pause state catches
 * RunStopped into Stopped) instead of waiting for a token nobody will send.
 */
async function notPaused(runs: RunRepository, runId: string): Promise<{ paused: boolean }> {
  const run = await mustGetRun(runs, runId);
  if (isFinal(run)) throw new RunStopped(`run ${run.runId} is ${run.status}${run.stopReason ? ` (${run.stopReason})` : ''}; it does no more work`);
  return { paused: false };
}
