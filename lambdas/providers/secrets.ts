/**
 * Secrets Manager reads of the handlers (model API keys, the Langfuse keys): apart from the providers, so the
 * handlers that read a secret but never call a model do not bundle them.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { BadRequest, TimeoutError, TransientError } from '../core/errors';

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

