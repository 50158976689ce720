import { CognitoIdentityProviderClient, InitiateAuthCommand } from '@aws-sdk/client-cognito-identity-provider';
import { AuthenticationDetails, CognitoUser, CognitoUserPool, type CognitoUserSession, type ICognitoStorage } from 'amazon-cognito-identity-js';
import { UsageError } from './common';

/** Where a client signs in: the pool, its public app client, and (against an emulator) the endpoint. */
export interface PoolSettings {
  region: string;
  userPoolId: string;
  clientId: string;
  /** Cognito's endpoint when not AWS's (a local emulator): --cognito-endpoint or AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER. */
  endpoint?: string;
}

/** A signed-in user's tokens. The ID token is the bearer token API Gateway's Cognito authorizer takes. */
export interface Tokens {
  idToken: string;
  accessToken: string;
  refreshToken: string;
  /** When the ID token expires (ms since the epoch). */
  expiresAt: number;
}

/** A JWT's `exp`, in ms since the epoch. */
export function expiryOf(jwt: string): number {
  const payload = JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as { exp?: number };
  if (typeof payload.exp !== 'number') throw new Error('token has no exp claim');
  return payload.exp * 1000;
}

/** Keeps nothing: the library's token cache would otherwise live in memory-backed localStorage shims. */
const noStorage: ICognitoStorage = { setItem: () => undefined, getItem: () => null, removeItem: () => undefined, clear: () => undefined };

/**
 * Signs in with SRP (USER_SRP_AUTH: the password never leaves this process; amazon-cognito-identity-js does the SRP
 * math). A first sign-in with a temporary password answers NEW_PASSWORD_REQUIRED with `newPassword()`.
 */
export function srpSignIn(pool: PoolSettings, username: string, password: string, newPassword: () => Promise<string>): Promise<Tokens> {
  const userPool = new CognitoUserPool({ UserPoolId: pool.userPoolId, ClientId: pool.clientId, endpoint: pool.endpoint, Storage: noStorage });
  const user = new CognitoUser({ Username: username, Pool: userPool, Storage: noStorage });
  user.setAuthenticationFlowType('USER_SRP_AUTH');
  return new Promise<Tokens>((resolve, reject) => {
    const callbacks = {
      onSuccess: (session: CognitoUserSession) => {
        const idToken = session.getIdToken().getJwtToken();
        resolve({ idToken, accessToken: session.getAccessToken().getJwtToken(), refreshToken: session.getRefreshToken().getToken(), expiresAt: expiryOf(idToken) });
      },
      onFailure: (err: Error) => reject(new UsageError(`sign-in failed: ${err.message}`)),
      newPasswordRequired: () => {
        newPassword().then((p) => user.completeNewPasswordChallenge(p, {}, callbacks), reject);
      },
      mfaRequired: () => reject(new UsageError('this user has SMS MFA: agent login does not support MFA yet')),
      totpRequired: () => reject(new UsageError('this user has TOTP MFA: agent login does not support MFA yet')),
      customChallenge: () => reject(new UsageError('the pool asked for a custom challenge, which agent login does not answer')),
    };
    user.authenticateUser(new AuthenticationDetails({ Username: username, Password: password }), callbacks);
  });
}

/** New ID and access tokens from the refresh token (REFRESH_TOKEN_AUTH); the refresh token stays unless rotated. */
export async function refreshTokens(pool: PoolSettings, refreshToken: string): Promise<Tokens> {
  const client = new CognitoIdentityProviderClient({ region: pool.region, ...(pool.endpoint ? { endpoint: pool.endpoint } : {}) });
  try {
    const out = await client.send(new InitiateAuthCommand({ AuthFlow: 'REFRESH_TOKEN_AUTH', ClientId: pool.clientId, AuthParameters: { REFRESH_TOKEN: refreshToken } }));
    const r = out.AuthenticationResult;
    if (!r?.IdToken || !r.AccessToken) throw new Error('Cognito returned no tokens');
    return { idToken: r.IdToken, accessToken: r.AccessToken, refreshToken: r.RefreshToken ?? refreshToken, expiresAt: expiryOf(r.IdToken) };
  } catch (err) {
    throw new UsageError(`your session could not be refreshed (${(err as Error).message}): sign in again with agent login`);
  } finally {
    client.destroy();
  }
}
