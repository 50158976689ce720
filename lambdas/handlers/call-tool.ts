import { type ToolStepInput, toolStep } from '../core/loop';
import { lambdaEntry, wrap } from './wrap';

/** CallTool: one tool call, checkpointed as a message before the loop moves on. */
export const createHandler = wrap((rt, event: ToolStepInput, context) => {
  rt.registerLambdaContext(context);
  return toolStep(rt, event);
});
export const handler = lambdaEntry(createHandler);
