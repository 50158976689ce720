import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AgentConfig } from '../lib/config';
import { type LocalIam, UnrecognizedClient } from './iam/check';
import { AccessDenied } from './iam/policy';
import { type LocalEndpoint, listenLocal, readJsonObject } from './listen';
import { LOCAL_ACCOUNT, LOCAL_REGION } from './template';

/**
 * The local Secrets Manager (AWS JSON 1.1, `X-Amz-Target: secretsmanager.<Operation>`): GetSecretValue and
 * DescribeSecret on the secrets the engine was given, each request checked against the signer's role (IAM offline:
 * `secretsmanager:<Operation>` on the secret's ARN). Handlers reach it with their own SDK clients
 * (`AWS_ENDPOINT_URL_SECRETS_MANAGER` for the AWS CLI and SDKs, credentials test/test as the administrator).
 */
export type LocalSecretsManager = LocalEndpoint;

/** Largest request read (Secrets Manager's own requests are small; a secret value is at most 64 KB). */
const MAX_REQUEST_BYTES = 1024 * 1024;

export interface LocalSecret {
  arn: string;
  name: string;
  value: string;
  versionId: string;
  createdDate: Date;
}

const hash = (text: string) => createHash('sha256').update(text).digest();

/**
 * The ARN Secrets Manager would give a secret of this name here: the local region and account, and the six random
 * characters AWS appends (derived from the name, so it is stable across restarts). CDK's grants on a secret imported
 * by name end in `-??????` for that suffix.
 */
export function localSecretArn(name: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const suffix = [...hash(name).subarray(0, 6)].map((b) => alphabet[b % alphabet.length]).join('');
  return `arn:aws:secretsmanager:${LOCAL_REGION}:${LOCAL_ACCOUNT}:secret:${name}-${suffix}`;
}

const isArn = (id: string) => id.startsWith('arn:');
/** The name in a secret ARN (`…:secret:<name>-XXXXXX`). */
const nameOfArn = (arn: string) => arn.split(':secret:')[1]?.replace(/-[A-Za-z0-9]{6}$/, '') ?? arn;

/** The secrets of the local Secrets Manager, by ARN; found by name, complete ARN or partial ARN (no suffix). */
export class LocalSecretStore {
  private readonly secrets = new Map<string, LocalSecret>();

  /** `secrets`: value by secret name or complete ARN (a secret configured by ARN keeps it). */
  constructor(secrets: Record<string, string> = {}) {
    for (const [id, value] of Object.entries(secrets)) this.put(id, value);
  }

  put(id: string, value: string): LocalSecret {
    const arn = isArn(id) ? id : localSecretArn(id);
    const secret = { arn, name: isArn(id) ? nameOfArn(id) : id, value, versionId: uuidOf(`${arn}\n${value}`), createdDate: new Date() };
    this.secrets.set(arn, secret);
    return secret;
  }

  find(secretId: string): LocalSecret | undefined {
    if (!isArn(secretId)) return this.secrets.get(localSecretArn(secretId)) ?? [...this.secrets.values()].find((s) => s.name === secretId);
    return this.secrets.get(secretId) ?? [...this.secrets.values()].find((s) => s.arn.replace(/-[A-Za-z0-9]{6}$/, '') === secretId);
  }

  /** The ARN a request for `secretId` is authorized on: the secret's, or the one it would have (a missing secret). */
  arnOf(secretId: string): string {
    return this.find(secretId)?.arn ?? (isArn(secretId) ? secretId : localSecretArn(secretId));
  }

  get size(): number {
    return this.secrets.size;
  }
}

function uuidOf(text: string): string {
  const h = hash(text).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/**
 * The secrets file (`AGENT_SECRETS_FILE`, default `.agent-data/secrets.json`): a JSON object of secret name or ARN
 * → value; a value that is an object is stored as its JSON (`{"apiKey": "…"}`, `{"publicKey": "…", "secretKey": "…"}`).
 * A file that does not exist holds no secrets.
 */
export function readSecretsFile(file: string): Record<string, string> {
  if (!existsSync(file)) return {};
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`secrets file ${file}: not JSON (${(err as Error).message})`);
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw new Error(`secrets file ${file}: must be a JSON object of secret name or ARN → value`);
  return Object.fromEntries(
    Object.entries(json).map(([id, value]) => {
      if (value === null || (typeof value !== 'string' && typeof value !== 'object')) throw new Error(`secrets file ${file}: the value of ${id} must be a string or a JSON object`);
      return [id, typeof value === 'string' ? value : JSON.stringify(value)];
    }),
  );
}

/**
 * The secrets a config names whose values its environment variables hold, so a config that names both keeps working
 * offline: a model's `apiKeySecret` from its `apiKeyEnv`, the Langfuse `secret` from `publicKeyEnv`/`secretKeyEnv`
 * (as `{"publicKey", "secretKey"}`). Only when those variables are set.
 */
export function secretsFromEnv(config: AgentConfig, env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const model of [config.models.primary, config.models.fallback]) {
    const key = model?.apiKeyEnv ? env[model.apiKeyEnv]?.trim() : undefined;
    if (model?.apiKeySecret && key) out[model.apiKeySecret] = key;
  }
  const langfuse = config.observability.langfuse;
  const [publicKey, secretKey] = [env[langfuse?.publicKeyEnv ?? ''], env[langfuse?.secretKeyEnv ?? '']];
  if (langfuse?.secret && publicKey && secretKey) out[langfuse.secret] = JSON.stringify({ publicKey, secretKey });
  return out;
}

/** Appended to a not-found answer: where the local Secrets Manager's secrets come from. */
const WHERE_SECRETS_COME_FROM =
  '(offline: the local Secrets Manager holds the secrets of AGENT_SECRETS_FILE, default .agent-data/secrets.json, and those whose values the config names by apiKeyEnv or publicKeyEnv/secretKeyEnv; see docs/local-vs-aws.md)';

class ServiceError extends Error {
  constructor(
    override readonly name: string,
    message: string,
  ) {
    super(message);
  }
}

const epoch = (d: Date) => d.getTime() / 1000;

function secretOf(store: LocalSecretStore, secretId: string): LocalSecret {
  const secret = store.find(secretId);
  if (!secret) throw new ServiceError('ResourceNotFoundException', `Secrets Manager can't find the specified secret. ${WHERE_SECRETS_COME_FROM}`);
  return secret;
}

const OPERATIONS: Record<string, (store: LocalSecretStore, body: Record<string, unknown>) => unknown> = {
  GetSecretValue: (store, b) => {
    const secret = secretOf(store, String(b.SecretId));
    if (b.VersionId !== undefined && b.VersionId !== secret.versionId)
      throw new ServiceError('ResourceNotFoundException', `Secrets Manager can't find the specified secret value for VersionId: ${String(b.VersionId)}`);
    if (b.VersionStage !== undefined && b.VersionStage !== 'AWSCURRENT')
      throw new ServiceError('ResourceNotFoundException', `Secrets Manager can't find the specified secret value for staging label: ${String(b.VersionStage)}`);
    return { ARN: secret.arn, Name: secret.name, VersionId: secret.versionId, SecretString: secret.value, VersionStages: ['AWSCURRENT'], CreatedDate: epoch(secret.createdDate) };
  },
  DescribeSecret: (store, b) => {
    const secret = secretOf(store, String(b.SecretId));
    return {
      ARN: secret.arn,
      Name: secret.name,
      CreatedDate: epoch(secret.createdDate),
      LastChangedDate: epoch(secret.createdDate),
      VersionIdsToStages: { [secret.versionId]: ['AWSCURRENT'] },
    };
  },
};

/** The operations this endpoint serves. */
export const SECRETS_OPERATIONS = Object.keys(OPERATIONS);

export async function startSecretsManager(store: LocalSecretStore, iam: LocalIam, options: { port?: number; host?: string } = {}): Promise<LocalSecretsManager> {
  const server = createServer((req, res) => {
    handle(store, iam, req, res).catch((err) => reply(res, 500, { __type: 'InternalServiceError', Message: (err as Error).message }));
  });
  return listenLocal(server, options);
}

async function handle(store: LocalSecretStore, iam: LocalIam, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const [prefix, name] = String(req.headers['x-amz-target'] ?? '').split('.');
  const body = await readJsonObject(req, MAX_REQUEST_BYTES);
  const op = name ? OPERATIONS[name] : undefined;
  if (req.method !== 'POST' || prefix !== 'secretsmanager' || !name || !op) {
    return reply(res, 400, {
      __type: 'UnknownOperationException',
      Message: `send POST with X-Amz-Target: secretsmanager.<Operation>; served locally: ${SECRETS_OPERATIONS.join(', ')}`,
    });
  }
  if (body === undefined) return reply(res, 400, { __type: 'SerializationException', Message: 'the body must be a JSON object' });
  if (typeof body.SecretId !== 'string' || !body.SecretId) {
    return reply(res, 400, {
      __type: 'ValidationException',
      Message: "1 validation error detected: Value null at 'secretId' failed to satisfy constraint: Member must not be null",
    });
  }
  try {
    // IAM first, on the secret's ARN: a role without the grant learns nothing about the secret (not even whether it exists).
    iam.authorize(iam.principalOf(req.headers.authorization), `secretsmanager:${name}`, [store.arnOf(body.SecretId)]);
    reply(res, 200, op(store, body));
  } catch (err) {
    if (err instanceof AccessDenied || err instanceof UnrecognizedClient || err instanceof ServiceError) return reply(res, 400, { __type: err.name, Message: err.message });
    throw err;
  }
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', ...(status >= 400 ? { 'x-amzn-errortype': String((body as { __type?: string }).__type) } : {}) });
  res.end(JSON.stringify(body));
}
