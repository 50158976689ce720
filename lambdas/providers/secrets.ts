/**
 * Secrets Manager reads of the handlers (model API keys, the Langfuse keys): apart from the providers, so the
 * handlers that read a secret but never call a model do not bundle them.
 */
import { getSecret, SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { BadRequest, TimeoutError, TransientError } from '../core/errors';

/** Reads a secret's string value (Secrets Manager in AWS). */
export type SecretReader = (secretId: string) => Promise<string>;

/**
 * How long a read secret is kept in the container (Powertools' cache): a rotated key is picked up within this time,
 * and a warm container reads each secret at most once per period.
 */
export const SECRET_MAX_AGE_SECONDS = 300;

/** Errors of a read that no retry can fix: a deployment fault (the secret's name, its grant, its key). */
const DEPLOYMENT_FAULTS = new Set(['ResourceNotFoundException', 'AccessDeniedException', 'InvalidRequestException', 'InvalidParameterException', 'DecryptionFailure']);

export interface SecretReaderOptions {
  /**
   * The Secrets Manager client to read with. Absent in AWS: Powertools' `getSecret` with its default client (the
   * function's role; `AWS_ENDPOINT_URL_SECRETS_MANAGER` points it elsewhere). The local engine passes one bound to
   * its Secrets Manager endpoint that signs as the calling function.
   */
  client?: SecretsManagerClient;
  /** @default SECRET_MAX_AGE_SECONDS */
  maxAgeSeconds?: number;
}

/**
 * A Secrets Manager reader on Powertools parameters (`getSecret`, cached for `maxAge`); a failed read is not cached
 * (the next call tries again). Errors are taxonomy errors: a missing secret, a denied read or a secret without a
 * string value is a BadRequest (a deployment fault, not retried), a client timeout a TimeoutError, anything else
 * transient.
 */
export function createSecretReader(options: SecretReaderOptions = {}): SecretReader {
  const maxAge = options.maxAgeSeconds ?? SECRET_MAX_AGE_SECONDS;
  const provider = options.client ? new SecretsProvider({ awsSdkV3Client: options.client }) : undefined;
  const get = (secretId: string) => (provider ? provider.get(secretId, { maxAge }) : getSecret(secretId, { maxAge }));
  return async (secretId) => {
    let value: unknown;
    try {
      value = await get(secretId);
    } catch (err) {
      // Powertools wraps the SDK's error (GetParameterError); its cause is the service's.
      const cause = (err as { cause?: unknown }).cause ?? err;
      const name = (cause as { name?: string }).name ?? 'Error';
      const message = `secret ${secretId}: ${name}: ${(cause as Error).message ?? String(cause)}`;
      if (DEPLOYMENT_FAULTS.has(name)) throw new BadRequest(message, { cause });
      if (name === 'TimeoutError') throw new TimeoutError(message, { cause });
      throw new TransientError(message, { cause });
    }
    if (typeof value !== 'string' || !value) throw new BadRequest(`secret ${secretId} has no string value`);
    return value;
  };
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
