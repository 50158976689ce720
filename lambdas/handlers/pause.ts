import { type PauseInput, pauseRun } from '../core/steps/pause';
import { baseRuntimeFromEnv } from '../runtime/base';
import { lambdaEntry, wrap } from '../runtime/wrap';

/** Pause (.waitForTaskToken): stores the token on the run; the execution waits until resume sends it back. */
export const createHandler = wrap((rt, event: PauseInput) => pauseRun(rt, event));
export const handler = lambdaEntry(createHandler, baseRuntimeFromEnv);
