import { type FinalizeInput, finalize } from '../core/steps/finalize';
import { baseRuntimeFromEnv } from '../runtime/base';
import { lambdaEntry, wrap } from '../runtime/wrap';

/** Finish / Surrender / Degrade / Refused: the one exit of every run. */
export const createHandler = wrap((rt, event: FinalizeInput) => finalize(rt, event));
export const handler = lambdaEntry(createHandler, baseRuntimeFromEnv);
