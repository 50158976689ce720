import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';

/** An HTTP request as the local server read it. */
export interface HttpRequest {
  method: string;
  /** Path and query string, as on the request line. */
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** The claims the Cognito authorizer puts on the event for a verified token (`sub` is the caller). */
export type AuthorizerClaims = Record<string, string>;

/**
 * The claims a local token stands for: the user id as `sub`, as a Cognito ID token carries it, and its groups as
 * API Gateway passes `cognito:groups` to a REST proxy integration (one string, comma separated).
 */
export function claimsFor(userId: string, groups: string[] = []): AuthorizerClaims {
  return { sub: userId, 'cognito:username': userId, token_use: 'id', ...(groups.length ? { 'cognito:groups': groups.join(',') } : {}) };
}

/**
 * HTTP request → API Gateway REST proxy event (payload format 1.0), as API Gateway builds it behind a Cognito
 * authorizer: the verified token's claims under requestContext.authorizer.claims (none when unauthenticated).
 */
export function toProxyEvent(
  req: HttpRequest,
  claims: AuthorizerClaims | null,
  stage = 'local',
  route: { resource: string; pathParameters: Record<string, string> } | undefined = undefined,
): APIGatewayProxyEvent {
  const url = new URL(req.url, 'http://localhost');
  // Maps, then plain objects with own properties only: a header or parameter named `__proto__` or `constructor`
  // is just a name (as in API Gateway's JSON event), never the object's prototype.
  const headerMap = new Map<string, string[]>();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    headerMap.set(name, Array.isArray(value) ? value : [value]);
  }
  const queryMap = new Map<string, string[]>();
  for (const [k, v] of url.searchParams.entries()) queryMap.set(k, [...(queryMap.get(k) ?? []), v]);
  const headers: Record<string, string> = Object.fromEntries([...headerMap].map(([k, v]) => [k, v.join(',')]));
  const multiValueHeaders: Record<string, string[]> = Object.fromEntries(headerMap);
  // API Gateway's single-value map keeps the last value of a repeated parameter.
  const query: Record<string, string> = Object.fromEntries([...queryMap].map(([k, v]) => [k, v[v.length - 1] as string]));
  const multiQuery: Record<string, string[]> = Object.fromEntries(queryMap);
  const hasQuery = queryMap.size > 0;
  return {
    resource: route?.resource ?? url.pathname,
    path: url.pathname,
    httpMethod: req.method.toUpperCase(),
    headers,
    multiValueHeaders,
    queryStringParameters: hasQuery ? query : null,
    multiValueQueryStringParameters: hasQuery ? multiQuery : null,
    pathParameters: route && Object.keys(route.pathParameters).length ? route.pathParameters : null,
    stageVariables: null,
    body: req.body === '' ? null : req.body,
    isBase64Encoded: false,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      authorizer: claims ? { claims } : null,
      httpMethod: req.method.toUpperCase(),
      identity: { sourceIp: '127.0.0.1', userAgent: headers['user-agent'] ?? null } as APIGatewayProxyEvent['requestContext']['identity'],
      path: `/${stage}${url.pathname}`,
      protocol: 'HTTP/1.1',
      requestId: randomUUID(),
      requestTimeEpoch: Date.now(),
      resourceId: 'local',
      resourcePath: route?.resource ?? url.pathname,
      stage,
    },
  };
}

/** API Gateway REST proxy result → the HTTP response. */
export function writeProxyResult(result: APIGatewayProxyResult, res: ServerResponse): void {
  const headers: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(result.headers ?? {})) headers[k.toLowerCase()] = String(v);
  for (const [k, v] of Object.entries(result.multiValueHeaders ?? {})) headers[k.toLowerCase()] = v.map(String);
  const body = result.isBase64Encoded ? Buffer.from(result.body, 'base64') : Buffer.from(result.body ?? '', 'utf8');
  res.writeHead(result.statusCode, headers);
  res.end(body);
}
