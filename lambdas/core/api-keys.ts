import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * API keys for machine clients (docs/auth.md): `agk_<keyId>_<secret>`, random, shown once. The table keeps the key's
 * id, its owner, the admin flag, when it was made and last used, and whether it is revoked — and of the secret only
 * its SHA-256 (a 256-bit random secret needs no slow hash: nothing can be guessed from its digest).
 */

/** What the table holds of a key; never the key itself. */
export interface ApiKeyRecord {
  keyId: string;
  userId: string;
  admin: boolean;
  /** SHA-256 of the secret part, hex. */
  secretHash: string;
  createdAt: string;
  createdBy: string;
  lastUsedAt?: string;
  revokedAt?: string;
}

/** A key as listed: everything but the hash. */
export type ApiKeyView = Omit<ApiKeyRecord, 'secretHash'>;

/** Where keys are kept (lambdas/store/api-key-store.ts). */
export interface ApiKeyPort {
  /** Writes a new key; fails when the id exists. */
  create(record: ApiKeyRecord): Promise<void>;
  get(keyId: string): Promise<ApiKeyRecord | undefined>;
  /** Every key, or one user's, newest first. */
  list(userId?: string): Promise<ApiKeyRecord[]>;
  /** Marks a key revoked (once: a second revoke keeps the first time); undefined when there is no such key. */
  revoke(keyId: string, at: string): Promise<ApiKeyRecord | undefined>;
  /** Records a use (best effort). */
  touch(keyId: string, at: string): Promise<void>;
}

const PREFIX = 'agk_';
const KEY = /^agk_([a-z0-9]{16})_([A-Za-z0-9_-]{43})$/;
/** Key ids: 16 lower-case letters or digits. */
export const KEY_ID = /^[a-z0-9]{16}$/;
/** User ids as the admin routes take them. */
export const KEY_USER_ID = /^[\w@.+:|-]{1,128}$/;

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

/** A new key for a user: the key to show once, and the record to store. */
export function newApiKey(
  input: { userId: string; admin: boolean; createdBy: string; now: Date },
  random: (n: number) => Buffer = randomBytes,
): { key: string; record: ApiKeyRecord } {
  const keyId = [...random(16)].map((b) => 'abcdefghijklmnopqrstuvwxyz0123456789'[b % 36]).join('');
  const secret = random(32).toString('base64url');
  return {
    key: `${PREFIX}${keyId}_${secret}`,
    record: { keyId, userId: input.userId, admin: input.admin, secretHash: sha256(secret), createdAt: input.now.toISOString(), createdBy: input.createdBy },
  };
}

/** The parts of a presented key, or null when it is not one of ours. */
export function parseApiKey(token: string): { keyId: string; secret: string } | null {
  const m = KEY.exec(token);
  return m?.[1] && m[2] ? { keyId: m[1], secret: m[2] } : null;
}

/** Whether a presented secret is the stored key's: the digests compared in constant time; a revoked key never is. */
export function keyMatches(record: ApiKeyRecord | undefined, secret: string): record is ApiKeyRecord {
  if (!record || record.revokedAt) return false;
  const stored = Buffer.from(record.secretHash, 'hex');
  const given = Buffer.from(sha256(secret), 'hex');
  return stored.length === given.length && timingSafeEqual(stored, given);
}

export const viewOf = ({ secretHash: _hash, ...view }: ApiKeyRecord): ApiKeyView => view;

/** The bearer token of an `Authorization` header (`Bearer <token>`), or null. */
export function bearerToken(header: string | undefined): string | null {
  if (typeof header !== 'string') return null;
  return /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1] ?? null;
}

/** A Lambda authorizer's answer (API Gateway's REQUEST authorizer output). */
export interface AuthorizerResponse {
  principalId: string;
  policyDocument: { Version: '2012-10-17'; Statement: { Action: string; Effect: 'Allow' | 'Deny'; Resource: string }[] };
  context: Record<string, string>;
}

/**
 * Allows the caller on every method of the stage: API Gateway caches the answer by the token, not by the method, so a
 * policy naming only the first method would refuse the caller's next route until the cache expires.
 */
export function allowPolicy(principalId: string, methodArn: string, context: Record<string, string>): AuthorizerResponse {
  // arn:aws:execute-api:<region>:<account>:<apiId>/<stage>/<METHOD>/<path> → …:<apiId>/<stage>/*
  const [prefix, stage] = methodArn.split('/');
  return {
    principalId,
    policyDocument: { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: `${prefix}/${stage}/*` }] },
    context,
  };
}
