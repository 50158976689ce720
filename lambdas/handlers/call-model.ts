import { type ModelStepInput, modelStep } from '../core/loop';
import { lambdaEntry, wrap } from './wrap';

/** CallModel / CallFallbackModel: one model call of the tier in the event. */
export const createHandler = wrap((rt, event: ModelStepInput, context) =>
  modelStep(rt, event, { remainingMs: () => context.getRemainingTimeInMillis() }),
);
export const handler = lambdaEntry(createHandler);
