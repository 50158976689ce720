import { createHash, timingSafeEqual } from 'node:crypto';

/** Verifies an `Authorization` header: the user id of a configured bearer token, or null. */
export type TokenVerifier = (authorizationHeader: string | undefined) => string | null;

const digest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

/**
 * The local server's stand-in for Cognito: bearer tokens (token → user id) from `localTokens` or the development
 * token. Tokens are held in a Map of their own (no prototype: `Bearer constructor`, `__proto__`, `toString` are
 * just unknown tokens), and every candidate is compared in constant time over SHA-256 digests, so neither the
 * comparison nor the token's length leaks through timing. Every configured token is compared on each call.
 */
export function createTokenVerifier(tokens: Record<string, string> | ReadonlyMap<string, string>): TokenVerifier {
  const entries = [...(tokens instanceof Map ? tokens.entries() : Object.entries(tokens))].map(([token, userId]) => ({
    hash: digest(token),
    userId,
  }));
  return (header) => {
    if (typeof header !== 'string') return null;
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match?.[1]) return null;
    const candidate = digest(match[1]);
    let found: string | null = null;
    for (const entry of entries) {
      if (timingSafeEqual(entry.hash, candidate) && found === null) found = entry.userId;
    }
    return found;
  };
}
