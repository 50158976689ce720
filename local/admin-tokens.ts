import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Local admins: `adminTokens` (token → admin id) from the config. The lookup is by the token's SHA-256 in a Map, and
 * the stored digest is compared in constant time, so neither the object's prototype (`obj[token]`) nor the timing
 * of a string comparison says anything about a token. In AWS the Cognito group agent-admins decides instead.
 */
export function adminTokenLookup(adminTokens: Record<string, string> | undefined): (token: string) => string | undefined {
  const digest = (token: string) => createHash('sha256').update(token, 'utf8').digest();
  const byDigest = new Map<string, { digest: Buffer; adminId: string }>();
  for (const [token, adminId] of Object.entries(adminTokens ?? {})) {
    const d = digest(token);
    byDigest.set(d.toString('hex'), { digest: d, adminId });
  }
  return (token) => {
    if (!token || byDigest.size === 0) return undefined;
    const d = digest(token);
    const entry = byDigest.get(d.toString('hex'));
    return entry && timingSafeEqual(entry.digest, d) ? entry.adminId : undefined;
  };
}
