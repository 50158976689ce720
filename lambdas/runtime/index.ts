import type { LoopDeps } from '../core/loop';
import { type ApiKeyWiring, createApiKeyWiring } from './api-keys';
import { type BaseRuntime, createBaseRuntime, type RuntimeOptions } from './base';
import { type BreakerWiring, createBreakerWiring } from './breaker';
import { withIdempotentTools } from './idempotency';
import { createModelWiring, type ModelWiring } from './models';
import { createSpendWiring, type SpendWiring } from './spend';
import { createToolWiring, type ToolWiring } from './tools';

export { type BaseRuntime, invocationContext, type RuntimeOptions } from './base';

/**
 * Everything a handler can need, built once (the local engine runs every handler on one). A deployed handler
 * wires only its part (lambdaEntry in ./wrap.ts with ./base.ts, ./tools.ts, ./models.ts).
 */
export type Runtime = BaseRuntime & BreakerWiring & SpendWiring & ToolWiring & ModelWiring & LoopDeps;

/** Wires the store, the breaker, the spend counters, the API keys, the models (each behind its breaker) and the tools from config. */
export function createRuntime(options: RuntimeOptions): Runtime & ApiKeyWiring {
  const base = createBaseRuntime(options);
  const guarded = { ...base, ...createBreakerWiring(options, base) };
  return {
    ...guarded,
    ...createSpendWiring(options),
    ...createApiKeyWiring(options),
    ...withIdempotentTools(options, createToolWiring(options, guarded)),
    ...createModelWiring(options, guarded),
  };
}
