import { CognitoJwtVerifier } from 'aws-jwt-verify';
import type { APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { type AuthorizeDeps, authorizeRequest, type CognitoVerify } from '../api/authorize';
import { SIGN_IN_ENV } from '../api/public-config';
import type { AuthorizerResponse } from '../core/api-keys';
import { type ApiKeyWiring, createApiKeyWiring } from '../runtime/api-keys';
import { type BaseRuntime, createBaseRuntime, optionsFromEnv } from '../runtime/base';
import { lambdaEntry, wrap } from '../runtime/wrap';

/** The API's Lambda REQUEST authorizer (api.auth "apiKeys" or "both"): `Authorization: Bearer <key or ID token>`. */
export const createHandler = wrap(async (rt: BaseRuntime & ApiKeyWiring & { cognito?: CognitoVerify }, event: APIGatewayRequestAuthorizerEvent): Promise<AuthorizerResponse> => {
  const header = Object.entries(event.headers ?? {}).find(([k]) => k.toLowerCase() === 'authorization')?.[1];
  const deps: AuthorizeDeps = { keys: rt.apiKeys, cognito: rt.cognito, onWarning: (message, err) => rt.logger.warn(message, { err }) };
  return authorizeRequest(deps, { authorization: header ?? undefined, methodArn: event.methodArn });
});

/** A real pool id (`<region>_<id>`): the verifier of its ID tokens for the configured app client. */
function cognitoFromEnv(env: NodeJS.ProcessEnv): CognitoVerify | undefined {
  const userPoolId = env[SIGN_IN_ENV.userPoolId];
  const clientId = env[SIGN_IN_ENV.clientId];
  if (!userPoolId || !clientId || !/^[a-z]{2}(-[a-z]+)+-\d_[0-9a-zA-Z]+$/.test(userPoolId)) return undefined;
  const verifier = CognitoJwtVerifier.create({ userPoolId, clientId, tokenUse: 'id' });
  return async (token) => {
    try {
      const payload = await verifier.verify(token);
      const groups = payload['cognito:groups'];
      return { sub: payload.sub, groups: Array.isArray(groups) ? groups.map(String) : [] };
    } catch {
      return null;
    }
  };
}

function fromEnv(): BaseRuntime & ApiKeyWiring & { cognito?: CognitoVerify } {
  const options = optionsFromEnv();
  return { ...createBaseRuntime(options), ...createApiKeyWiring(options), cognito: cognitoFromEnv(process.env) };
}
export const handler = lambdaEntry(createHandler, fromEnv);
