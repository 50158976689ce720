import { type ModelStepInput, modelStep } from '../core/steps/call-model';
import { createSecretReader } from '../providers/secrets';
import type { Runtime } from '../runtime';
import { createBaseRuntime, optionsFromEnv } from '../runtime/base';
import { createBreakerWiring } from '../runtime/breaker';
import { createModelWiring } from '../runtime/models';
import { createSpendWiring } from '../runtime/spend';
import { createToolWiring } from '../runtime/tools';
import { lambdaEntry, wrap } from '../runtime/wrap';

/** CallModel / CallFallbackModel: one model call of the tier in the event. */
export const createHandler = wrap((rt: Runtime, event: ModelStepInput, context) => modelStep(rt, event, { remainingMs: () => context.getRemainingTimeInMillis() }));
/**
 * The base, the breaker, the spend counters, the models (and the tokenizer) and the tools they are offered (not
 * run: no idempotency layer).
 */
function fromEnv(): Runtime {
  const options = optionsFromEnv(process.env, createSecretReader());
  const base = createBaseRuntime(options);
  const guarded = { ...base, ...createBreakerWiring(options, base) };
  return { ...guarded, ...createSpendWiring(options), ...createToolWiring(options, guarded), ...createModelWiring(options, guarded) };
}
export const handler = lambdaEntry(createHandler, fromEnv);
