/**
 * Model providers behind one interface (ModelProvider in core/types.ts), built from a model config:
 *
 * | provider | module | wire | key |
 * |---|---|---|---|
 * | `openai` | ./openai.ts | Chat Completions, `POST {baseUrl}/chat/completions` (baseUrl includes `/v1`) | `Authorization: Bearer` |
 * | `anthropic` | ./anthropic.ts | Messages, `POST {baseUrl}/v1/messages` (baseUrl is the root) | `x-api-key` |
 * | `bedrock` | ./bedrock.ts | Converse (AWS SDK), `baseUrl` overrides the endpoint | IAM |
 * | `demo` | ./demo.ts | offline, deterministic | none |
 *
 * Every provider enforces its client timeout, sends exactly one request per call (no retries: Step Functions owns
 * them) and throws only taxonomy errors (core/errors.ts).
 *
 * Why hand-written clients and not the vendors' SDKs (or an LLM framework): the mapping of every failure into the
 * taxonomy is the point (the state machine's Retry/Catch match those names), and the SDKs retry on their own, keep
 * their own timeouts and throw their own error classes; the two wire formats are small and tested against recorded
 * shapes. Bedrock does use the AWS SDK (its signing), with its retries turned off.
 */
import type { ModelConfig } from '../core/config';
import { BadRequest } from '../core/errors';
import type { ModelProvider } from '../core/types';
import { createAnthropicProvider } from './anthropic';
import { type BedrockDeps, createBedrockProvider } from './bedrock';
import { createDemoProvider } from './demo';
import { createOpenAIProvider } from './openai';
import type { FetchLike } from './provider-http';
import { apiKeyFromSecret, type SecretReader } from './secrets';

export { apiKeyFromSecret, createSecretReader, type SecretReader, type SecretReaderOptions } from './secrets';

/**
 * The API key of a model:
 * - from Secrets Manager when `apiKeySecret` is set and a reader is given (./secrets.ts: Powertools `getSecret`,
 *   cached for a few minutes; offline the engine's local Secrets Manager);
 * - else from the environment variable named by `apiKeyEnv` (local runs); set but empty → BadRequest naming it;
 * - else none (`undefined`: servers without auth, e.g. a local Ollama).
 * `apiKeySecret` without a reader and without `apiKeyEnv` is a BadRequest.
 */
export async function resolveApiKey(config: ModelConfig, env: NodeJS.ProcessEnv, secrets?: SecretReader): Promise<string | undefined> {
  if (config.apiKeySecret && secrets) return apiKeyFromSecret(await secrets(config.apiKeySecret), config.apiKeySecret);
  if (config.apiKeyEnv) {
    const key = env[config.apiKeyEnv]?.trim();
    if (!key) throw new BadRequest(`the API key variable ${config.apiKeyEnv} (models.*.apiKeyEnv) is empty or not set`);
    return key;
  }
  if (config.apiKeySecret) throw new BadRequest(`models: apiKeySecret ${config.apiKeySecret} is set but no Secrets Manager reader is available (set apiKeyEnv for local runs)`);
  return undefined;
}

/** What {@link createProvider} may be given. All optional. */
export interface ProviderDeps {
  /** The API key itself; when given, no key is resolved from `env` or `secrets`. */
  apiKey?: string;
  /** Where `apiKeyEnv` is looked up (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Reads `apiKeySecret` ({@link createSecretReader}). */
  secrets?: SecretReader;
  /** The fetch of the HTTP providers (tests, the offline engine). */
  fetchImpl?: FetchLike;
  /** Builds the `demo` provider instead of ./demo.ts (tests, or a custom offline model). */
  demo?: (config: ModelConfig) => ModelProvider;
  /** Client or client config of the bedrock provider. */
  bedrock?: BedrockDeps;
}

/**
 * A model client for a config. For openai/anthropic the key is resolved lazily, on the first call, and kept for the
 * container's life; so a missing key fails the call as a BadRequest (not retried, the fallback model takes over)
 * rather than the handler's start, and a failed secret read is tried again on the next call.
 */
export function createProvider(config: ModelConfig, deps: ProviderDeps = {}): ModelProvider {
  switch (config.provider) {
    case 'demo':
      return deps.demo ? deps.demo(config) : createDemoProvider(config.model);
    case 'bedrock':
      return createBedrockProvider(config, deps.bedrock);
    case 'openai':
    case 'anthropic': {
      const create = config.provider === 'openai' ? createOpenAIProvider : createAnthropicProvider;
      if (deps.apiKey !== undefined) return create(config, { apiKey: deps.apiKey, fetchImpl: deps.fetchImpl });
      let inner: Promise<ModelProvider> | undefined;
      const build = async () => create(config, { apiKey: await resolveApiKey(config, deps.env ?? process.env, deps.secrets), fetchImpl: deps.fetchImpl });
      return {
        provider: config.provider,
        model: config.model,
        async complete(request) {
          if (!inner) {
            inner = build();
            inner.catch(() => {
              inner = undefined;
            });
          }
          return (await inner).complete(request);
        },
      };
    }
    default:
      throw new BadRequest(`models: provider "${(config as { provider: string }).provider}" is unknown; allowed: openai, anthropic, bedrock, demo`);
  }
}
