import type { APIGatewayProxyEvent } from 'aws-lambda';
import { callerOf } from './caller';
import type { ApiRequest } from './routes';

/**
 * An API Gateway REST proxy event as the routes read it: header names lower case, the body decoded, and the caller
 * as the authorizer in front of the route verified it (the Cognito authorizer's claims, or the Lambda authorizer's
 * context: lambdas/api/caller.ts) — never a body field.
 */
export function apiRequestOf(event: APIGatewayProxyEvent): ApiRequest {
  const caller = callerOf(event.requestContext?.authorizer);
  return {
    method: event.httpMethod,
    path: event.path,
    query: (event.queryStringParameters ?? {}) as Record<string, string | undefined>,
    headers: Object.fromEntries(Object.entries(event.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
    body: event.isBase64Encoded && event.body ? Buffer.from(event.body, 'base64').toString('utf8') : event.body,
    userId: caller.userId,
    isAdmin: caller.isAdmin,
  };
}
