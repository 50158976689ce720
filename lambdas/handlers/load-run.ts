import { loadRun, type StartInput } from '../core/steps/load-run';
import { baseRuntimeFromEnv } from '../runtime/base';
import { lambdaEntry, wrap } from '../runtime/wrap';

/** LoadRun: create or load the run; returns the small loop state. */
export const createHandler = wrap((rt, event: StartInput) => loadRun(rt, event, rt.config.budgets));
export const handler = lambdaEntry(createHandler, baseRuntimeFromEnv);
