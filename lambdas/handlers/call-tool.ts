import { type ToolStepInput, toolStep } from '../core/steps/call-tool';
import { type BaseRuntime, createBaseRuntime, optionsFromEnv } from '../runtime/base';
import { withIdempotentTools } from '../runtime/idempotency';
import { createToolWiring, type ToolWiring } from '../runtime/tools';
import { lambdaEntry, wrap } from '../runtime/wrap';

/** CallTool: one tool call, checkpointed as a message before the loop moves on. */
export const createHandler = wrap((rt: BaseRuntime & ToolWiring, event: ToolStepInput, context) => {
  rt.registerLambdaContext(context);
  return toolStep(rt, event);
});
/** The base and the tools: no models, no tokenizer. */
function fromEnv(): BaseRuntime & ToolWiring {
  const options = optionsFromEnv();
  const base = createBaseRuntime(options);
  return { ...base, ...withIdempotentTools(options, createToolWiring(options, base)) };
}
export const handler = lambdaEntry(createHandler, fromEnv);
