import { type ApiKeyPort, type AuthorizerResponse, allowPolicy, bearerToken, keyMatches, parseApiKey } from '../core/api-keys';
import { authorizerContext } from './caller';
import { ADMINS_GROUP } from './public-config';

/** A verified Cognito ID token's caller (api.auth "both"). */
export type CognitoVerify = (token: string) => Promise<{ sub: string; groups: string[] } | null>;

export interface AuthorizeDeps {
  keys: ApiKeyPort;
  /** With api.auth "both": verifies Cognito ID tokens; absent with "apiKeys". */
  cognito?: CognitoVerify;
  now?: () => Date;
  /** A failure that must not refuse the caller (recording the key's last use). */
  onWarning?: (message: string, err: unknown) => void;
}

/** What API Gateway reads as "refuse with 401": an error whose message is exactly `Unauthorized`. */
export class Unauthorized extends Error {
  constructor() {
    super('Unauthorized');
    this.name = 'Unauthorized';
  }
}

/**
 * The REQUEST authorizer's decision for one `Authorization` header: an unrevoked API key (its owner and admin flag),
 * or — with "both" — a Cognito ID token (its `sub` and the agent-admins group); anything else is 401. The answer
 * allows the whole stage, because API Gateway caches it by the header for api.authorizerCacheSeconds.
 */
export async function authorizeRequest(deps: AuthorizeDeps, input: { authorization: string | undefined; methodArn: string }): Promise<AuthorizerResponse> {
  const token = bearerToken(input.authorization);
  if (!token) throw new Unauthorized();
  const key = parseApiKey(token);
  if (key) {
    const record = await deps.keys.get(key.keyId);
    if (!keyMatches(record, key.secret)) throw new Unauthorized();
    try {
      await deps.keys.touch(record.keyId, (deps.now?.() ?? new Date()).toISOString());
    } catch (err) {
      deps.onWarning?.('could not record the key’s last use', err);
    }
    return allowPolicy(record.userId, input.methodArn, authorizerContext(record.userId, record.admin, 'apiKey'));
  }
  const user = deps.cognito && token.split('.').length === 3 ? await deps.cognito(token) : null;
  if (!user) throw new Unauthorized();
  return allowPolicy(user.sub, input.methodArn, authorizerContext(user.sub, user.groups.includes(ADMINS_GROUP), 'cognito'));
}
