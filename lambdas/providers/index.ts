import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { ModelConfig } from '../../lib/config';
import { BadRequest } from '../core/errors';
import type { ModelProvider } from '../core/types';
import type { FetchLike } from '../net/http';
import { createAnthropicProvider } from './anthropic';
import { createBedrockProvider } from './bedrock';
import { createDemoProvider } from './demo';
import { createOpenAIProvider } from './openai';

/** Reads a secret's string value (Secrets Manager in AWS). */
export type SecretReader = (secretId: string) => Promise<string>;

const secretCache = new Map<string, Promise<string>>();
/** A Secrets Manager reader that reads each secret once per container. */
export function createSecretReader(client = new SecretsManagerClient({})): SecretReader {
  return (secretId) => {
    let value = secretCache.get(secretId);
    if (!value) {
      value = client.send(new GetSecretValueCommand({ SecretId: secretId })).then((out) => {
        if (!out.SecretString) throw new BadRequest(`secret ${secretId} has no string value`);
        return out.SecretString;
      });
      value.catch(() => secretCache.delete(secretId));
      secretCache.set(secretId, value);
    }
    return value;
  };
}

/** The API key of a model: from Secrets Manager when `apiKeySecret` is set, else from the env var `apiKeyEnv`. */
export async function resolveApiKey(config: ModelConfig, env: NodeJS.ProcessEnv, secrets?: SecretReader): Promise<string | undefined> {
  if (config.apiKeySecret) {
    if (!secrets) throw new BadRequest(`models: apiKeySecret ${config.apiKeySecret} is set but no Secrets Manager reader is available`);
    return secrets(config.apiKeySecret);
  }
  if (config.apiKeyEnv) {
    const key = env[config.apiKeyEnv];
    if (!key) throw new BadRequest(`the API key variable ${config.apiKeyEnv} (models.*.apiKeyEnv) is empty or not set`);
    return key;
  }
  return undefined;
}

export interface ProviderDeps {
  env?: NodeJS.ProcessEnv;
  secrets?: SecretReader;
  fetchImpl?: FetchLike;
}

/**
 * A model client for a config. The key is resolved lazily, on the first call (once per container), so that a
 * missing key fails the call as a BadRequest (not retried) rather than the handler's start.
 */
export function createProvider(config: ModelConfig, deps: ProviderDeps = {}): ModelProvider {
  if (config.provider === 'demo') return createDemoProvider(config.model);
  if (config.provider === 'bedrock') return createBedrockProvider(config);
  let inner: Promise<ModelProvider> | undefined;
  const build = async () => {
    const apiKey = await resolveApiKey(config, deps.env ?? process.env, deps.secrets);
    return config.provider === 'openai' ? createOpenAIProvider(config, { apiKey, fetchImpl: deps.fetchImpl }) : createAnthropicProvider(config, { apiKey, fetchImpl: deps.fetchImpl });
  };
  return {
    provider: config.provider,
    model: config.model,
    async complete(request) {
      inner ??= build();
      inner.catch(() => {
        inner = undefined;
      });
      return (await inner).complete(request);
    },
  };
}
