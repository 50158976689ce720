import { type ToolStepInput, toolStep } from '../core/steps/call-tool';
import { createSecretReader } from '../providers/secrets';
import { type BaseRuntime, createBaseRuntime, optionsFromEnv } from '../runtime/base';
import { type BreakerWiring, createBreakerWiring } from '../runtime/breaker';
import { withIdempotentTools } from '../runtime/idempotency';
import { createToolWiring, type ToolWiring } from '../runtime/tools';
import { lambdaEntry, wrap } from '../runtime/wrap';

/** CallTool: one tool call, checkpointed as a message before the loop moves on. */
export const createHandler = wrap((rt: BaseRuntime & ToolWiring, event: ToolStepInput, context) => {
  rt.registerLambdaContext(context);
  return toolStep(rt, event);
});
/** The base, the breaker and the tools: no models, no tokenizer, no spend store. */
function fromEnv(): BaseRuntime & BreakerWiring & ToolWiring {
  // Secrets Manager: the headersSecret of MCP servers.
  const options = optionsFromEnv(process.env, createSecretReader());
  const base = createBaseRuntime(options);
  const guarded = { ...base, ...createBreakerWiring(options, base) };
  return { ...guarded, ...withIdempotentTools(options, createToolWiring(options, guarded)) };
}
export const handler = lambdaEntry(createHandler, fromEnv);
