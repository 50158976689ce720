import { ADMINS_GROUP } from './public-config';

/** Who calls the API, as the authorizer in front of it established (never a body field). */
export interface Caller {
  /** The verified caller; null when the route has no authorizer or the request carried no identity. */
  userId: string | null;
  isAdmin: boolean;
}

/**
 * The context the API's Lambda authorizer returns for a caller (lambdas/handlers/authorizer.ts); API Gateway passes
 * it to the integration as `requestContext.authorizer`, every value a string.
 */
export function authorizerContext(userId: string, admin: boolean, via: 'apiKey' | 'cognito' | 'local'): Record<string, string> {
  return { userId, admin: admin ? 'true' : 'false', via };
}

/**
 * The groups in a Cognito claim as API Gateway's REST authorizer passes them: a string, either one group, a
 * comma-separated list, or a bracketed list (`[a, b]` / `[a b]`); an array when a JWT is decoded directly.
 */
export function groupsOf(claim: unknown): string[] {
  if (Array.isArray(claim)) return claim.map(String);
  if (typeof claim !== 'string') return [];
  return claim
    .replace(/^\[|\]$/g, '')
    .split(/[,\s]+/)
    .map((g) => g.trim())
    .filter(Boolean);
}

/**
 * The caller of a REST proxy event's `requestContext.authorizer`: the Cognito authorizer's `claims` (`sub`, and
 * `cognito:groups` for admins), or the Lambda authorizer's context (`userId`, `admin`).
 */
export function callerOf(authorizer: unknown): Caller {
  if (!authorizer || typeof authorizer !== 'object') return { userId: null, isAdmin: false };
  const a = authorizer as Record<string, unknown>;
  if (a.claims && typeof a.claims === 'object') {
    const claims = a.claims as Record<string, unknown>;
    return { userId: typeof claims.sub === 'string' ? claims.sub : null, isAdmin: groupsOf(claims['cognito:groups']).includes(ADMINS_GROUP) };
  }
  return { userId: typeof a.userId === 'string' && a.userId ? a.userId : null, isAdmin: a.admin === 'true' || a.admin === true };
}
