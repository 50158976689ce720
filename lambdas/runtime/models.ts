import type { CircuitBreaker } from '../core/breaker';
import { contextWindowOf } from '../core/context-windows';
import type { LoopDeps, Tier } from '../core/loop';
import { estimatePromptTokens } from '../core/tokens';
import type { ModelProvider } from '../core/types';
import { createProvider } from '../providers';
import type { RuntimeOptions } from './base';
import type { BreakerWiring } from './breaker';

/** The models of each tier (behind their breakers) and the prompt estimate: call-model only (it bundles the tokenizer). */
export type ModelWiring = Pick<LoopDeps, 'model' | 'maxOutputTokens' | 'estimatePromptTokens' | 'contextWindow'>;

export function createModelWiring(options: RuntimeOptions, base: BreakerWiring): ModelWiring {
  const { config } = options;
  const models = new Map<Tier, ModelProvider | undefined>();
  return {
    model: (tier) => {
      if (!models.has(tier)) {
        const cfg = tier === 'primary' ? config.models.primary : config.models.fallback;
        models.set(
          tier,
          cfg
            ? guarded(createProvider(cfg, { env: options.env, fetchImpl: options.fetchImpl, secrets: options.secrets, bedrock: options.bedrock }), `model:${tier}`, base.breaker)
            : undefined,
        );
      }
      return models.get(tier);
    },
    maxOutputTokens: (tier) => (tier === 'primary' ? config.models.primary : (config.models.fallback ?? config.models.primary)).maxOutputTokens,
    // Each tier's own window: the fallback's (often smaller) is respected too.
    contextWindow: (tier) => contextWindowOf(tier === 'primary' ? config.models.primary : (config.models.fallback ?? config.models.primary)),
    estimatePromptTokens,
  };
}

/** A model whose every call goes through its breaker (CircuitOpen when open; no request sent). */
function guarded(model: ModelProvider, dependency: string, breaker: CircuitBreaker): ModelProvider {
  return { provider: model.provider, model: model.model, complete: (request) => breaker.call(dependency, () => model.complete(request)) };
}
