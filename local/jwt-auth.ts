import { JwtVerifier } from 'aws-jwt-verify';
import type { Fetcher } from 'aws-jwt-verify/https';
import { SimpleJwksCache } from 'aws-jwt-verify/jwk';
import type { AgentConfig } from '../lib/config';

/**
 * Verifies Cognito JWTs locally as API Gateway's Cognito authorizer does: the signature against the pool's JWKS, the
 * issuer, the audience (the app client), expiry, and `token_use` = id (the authorizer takes ID tokens when a method
 * has no OAuth scopes). The issuer is a local Cognito emulator (cognito-local) or a real pool.
 */

/** The verified caller: the token's `sub` and its `cognito:groups`. */
export interface Caller {
  userId: string;
  groups: string[];
}

/** `Authorization` header → the caller, or null when there is no valid token. */
export type Authenticate = (authorization: string | undefined) => Promise<Caller | null>;

export interface JwtAuthOptions {
  /** The pool's issuer: https://cognito-idp.<region>.amazonaws.com/<poolId>, or cognito-local's http://127.0.0.1:9229/<poolId>. */
  issuer: string;
  /** The app client id the ID token must be issued to (`aud`). */
  clientId: string;
  /** @default `${issuer}/.well-known/jwks.json` */
  jwksUri?: string;
}

/** aws-jwt-verify's own fetcher speaks https only; a local emulator serves its JWKS over http on loopback. */
const fetcher: Fetcher = {
  async fetch(uri) {
    const res = await fetch(uri, { signal: AbortSignal.timeout(5000) });
    if (!res.ok) throw new Error(`JWKS ${uri}: HTTP ${res.status}`);
    return res.arrayBuffer();
  },
};

export function jwtAuthenticator(options: JwtAuthOptions): Authenticate {
  const verifier = JwtVerifier.create(
    {
      issuer: options.issuer,
      audience: options.clientId,
      jwksUri: options.jwksUri ?? `${options.issuer.replace(/\/+$/, '')}/.well-known/jwks.json`,
      customJwtCheck: ({ payload }) => {
        if (payload.token_use !== 'id') throw new Error('not an ID token');
      },
    },
    { jwksCache: new SimpleJwksCache({ fetcher }) },
  );
  return async (authorization) => {
    const match = /^Bearer\s+(\S+)$/i.exec(authorization?.trim() ?? '');
    const token = match?.[1] ?? '';
    if (token.split('.').length !== 3) return null;
    try {
      const payload = await verifier.verify(token);
      const groups = payload['cognito:groups'];
      return typeof payload.sub === 'string' ? { userId: payload.sub, groups: Array.isArray(groups) ? groups.map(String) : [] } : null;
    } catch {
      return null;
    }
  };
}

const byConfig = new WeakMap<AgentConfig, Authenticate | null>();

/** The authenticator of a config's `localJwt` (made once per config), or null when it has none. */
export function localJwtAuth(config: AgentConfig): Authenticate | null {
  if (!byConfig.has(config)) byConfig.set(config, config.localJwt ? jwtAuthenticator(config.localJwt) : null);
  return byConfig.get(config) ?? null;
}
