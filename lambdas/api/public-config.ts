/**
 * GET /config: what a client needs to sign in (the viewer through managed login, `agent login` through SRP). Public
 * values only — pool id, app client id (a public client: it has no secret), region, managed login domain.
 */

/** The Cognito group whose members may use the admin routes (docs/api.md, Authentication). */
export const ADMINS_GROUP = 'agent-admins';

/** The API function's environment variables that carry the sign-in settings (set by lib/agent-stack.ts). */
export const SIGN_IN_ENV = {
  userPoolId: 'USER_POOL_ID',
  clientId: 'USER_POOL_CLIENT_ID',
  authDomain: 'AUTH_DOMAIN',
} as const;

export interface PublicConfig {
  region: string;
  userPoolId: string;
  clientId: string | null;
  /** Managed login base URL (https://<prefix>.auth.<region>.amazoncognito.com), or null when there is none. */
  authDomain: string | null;
}

/** The settings from the environment; null when the function has no user pool configured. */
export function publicConfig(env: NodeJS.ProcessEnv): PublicConfig | null {
  const userPoolId = env[SIGN_IN_ENV.userPoolId];
  if (!userPoolId) return null;
  // A pool id starts with its region (us-east-1_AbC…); AWS_REGION is the function's own.
  const region = env.AWS_REGION ?? userPoolId.split('_')[0] ?? '';
  return { region, userPoolId, clientId: env[SIGN_IN_ENV.clientId] || null, authDomain: env[SIGN_IN_ENV.authDomain] || null };
}
