import type { APIGatewayProxyEvent } from 'aws-lambda';
import { ADMIN_GROUP, groupsOf } from './admin-routes';
import type { ApiRequest } from './routes';

/**
 * An API Gateway REST proxy event as the routes read it: header names lower case, the body decoded, the caller the
 * verified token's `sub` (never a body field) and an admin when the authorizer's claims put them in agent-admins.
 */
export function apiRequestOf(event: APIGatewayProxyEvent): ApiRequest {
  const claims = (event.requestContext?.authorizer?.claims ?? {}) as Record<string, string | undefined>;
  return {
    method: event.httpMethod,
    path: event.path,
    query: (event.queryStringParameters ?? {}) as Record<string, string | undefined>,
    headers: Object.fromEntries(Object.entries(event.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
    body: event.isBase64Encoded && event.body ? Buffer.from(event.body, 'base64').toString('utf8') : event.body,
    userId: claims.sub ?? null,
    // Admins: members of the Cognito group, as the authorizer verified the token's claims.
    isAdmin: groupsOf(claims['cognito:groups']).includes(ADMIN_GROUP),
  };
}
