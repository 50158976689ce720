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
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { ModelConfig } from '../../lib/config';
import { BadRequest, TimeoutError, TransientError } from '../core/errors';
import type { ModelProvider } from '../core/types';
import { createAnthropicProvider } from './anthropic';
import { type BedrockDeps, createBedrockProvider } from './bedrock';
import { createDemoProvider } from './demo';
import type { FetchLike } from './http';
import { createOpenAIProvider } from './openai';

/** Reads a secret's string value (Secrets Manager in AWS). */
export type SecretReader = (secretId: string) => Promise<string>;

/** Secrets read in this container (module scope: a Lambda container reads each secret once). */
const secretCache = new Map<string, Promise<string>>();

/** Minimal shape of the Secrets Manager client this module uses (tests pass a stub). */
export type SecretsClient = Pick<SecretsManagerClient, 'send'>;

/**
 * A Secrets Manager reader that reads each secret once per container; a failed read is not cached (the next call
 * tries again). Errors are taxonomy errors: a missing secret or denied access is a BadRequest (a deployment fault,
 * not retried), anything else transient.
 */
export function createSecretReader(client: SecretsClient = new SecretsManagerClient({ maxAttempts: 2 })): SecretReader {
  return (secretId) => {
    let value = secretCache.get(secretId);
    if (!value) {
      value = readSecret(client, secretId);
      secretCache.set(secretId, value);
      value.catch(() => secretCache.delete(secretId));
    }
    return value;
  };
}

async function readSecret(client: SecretsClient, secretId: string): Promise<string> {
  let out: { SecretString?: string };
  try {
    out = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
  } catch (err) {
    const name = (err as { name?: string }).name ?? 'Error';
    const message = `secret ${secretId}: ${name}: ${(err as Error).message ?? String(err)}`;
    if (['ResourceNotFoundException', 'AccessDeniedException', 'InvalidRequestException', 'InvalidParameterException', 'DecryptionFailure'].includes(name)) {
      throw new BadRequest(message, { cause: err });
    }
    if (name === 'TimeoutError') throw new TimeoutError(message, { cause: err });
    throw new TransientError(message, { cause: err });
  }
  if (!out.SecretString) throw new BadRequest(`secret ${secretId} has no string value`);
  return out.SecretString;
}

/**
 * The key inside a secret's value: the value itself, or, when it is a JSON object, its `apiKey`, `api_key` or `key`
 * field (so one secret can hold `{"apiKey": "…", …}`).
 */
export function apiKeyFromSecret(value: string, secretId: string): string {
  const trimmed = value.trim();
  if (!trimmed.startsWith('{')) return trimmed;
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(trimmed) as Record<string, unknown>;
  } catch {
    return trimmed;
  }
  const key = json.apiKey ?? json.api_key ?? json.key;
  if (typeof key !== 'string' || !key) throw new BadRequest(`secret ${secretId} is a JSON object without an "apiKey" (or "api_key", "key") string`);
  return key;
}

/**
 * The API key of a model:
 * - from Secrets Manager when `apiKeySecret` is set and a reader is given (in AWS: read once per container);
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
  /** Reads `apiKeySecret` (in AWS: {@link createSecretReader}). */
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
