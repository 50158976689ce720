import type { APIGatewayProxyEvent, APIGatewayProxyResult, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { type AuthorizerClaims, type HttpRequest, toProxyEvent } from './apigw';
import { type CfnTemplate, LOCAL_ACCOUNT, LOCAL_REGION } from './template';

/**
 * API Gateway (REST) as the synthesized template defines it: its resources, methods, authorizers, stage throttling
 * and gateway responses are read from the template, and a request gets what API Gateway answers before the Lambda —
 * 403 "Missing Authentication Token" for a route or method the API lacks, 401 for a missing or refused token, 403 for
 * a Lambda authorizer's Deny, 413 past the 10 MB payload limit, 429 past the stage's throttle — in the template's
 * gateway response when it defines one, else in API Gateway's default body (docs/api.md, "API Gateway's own answers").
 */

/** API Gateway's payload limit (REST APIs: 10 MB). */
export const MAX_PAYLOAD_BYTES = 10 * 1024 * 1024;

export type AuthorizationType = 'NONE' | 'COGNITO_USER_POOLS' | 'CUSTOM' | 'AWS_IAM';

export interface AuthorizerSpec {
  logicalId: string;
  type: 'COGNITO_USER_POOLS' | 'TOKEN' | 'REQUEST';
  /** The request values the authorizer reads, e.g. `method.request.header.Authorization`. */
  identitySource: string[];
  /** How long API Gateway caches a Lambda authorizer's answer (0: not cached). */
  ttlSeconds: number;
  /** The authorizer's Lambda function (logical id), for TOKEN and REQUEST authorizers. */
  functionLogicalId?: string;
}

export interface MethodSpec {
  /** The resource path as API Gateway names it, e.g. `/runs/{id}`. */
  resourcePath: string;
  httpMethod: string;
  authorizationType: AuthorizationType;
  authorizer?: AuthorizerSpec;
  /** AWS_PROXY: the function (logical id) behind the method; MOCK: the integration's first response. */
  integration: { type: 'AWS_PROXY'; functionLogicalId: string; stream?: boolean } | { type: 'MOCK'; statusCode: number; headers: Record<string, string> } | { type: 'OTHER' };
}

export interface GatewayResponseSpec {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

/** The REST API of a template, as the local gateway serves it. */
export interface RestApiModel {
  methods: MethodSpec[];
  /** Stage throttling (`MethodSettings` of `/*`, `*`), if any. */
  throttle?: { rateLimit: number; burstLimit: number };
  /** Gateway responses the template defines, by type (UNAUTHORIZED, ACCESS_DENIED, ...). */
  responses: Map<string, GatewayResponseSpec>;
  stageName: string;
}

type Resources = CfnTemplate['Resources'];

/** The logical id a `{Ref}` or `{Fn::GetAtt: [id, …]}` points at. */
function refOf(value: unknown): string | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.Ref === 'string') return v.Ref;
  const att = v['Fn::GetAtt'];
  return Array.isArray(att) && typeof att[0] === 'string' ? att[0] : undefined;
}

/** The first Lambda function (logical id) an integration or authorizer URI names. */
function functionIn(value: unknown, resources: Resources): string | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const id = refOf(value);
  if (id && resources[id]?.Type === 'AWS::Lambda::Function') return id;
  for (const v of Object.values(value as Record<string, unknown>)) {
    const found = functionIn(v, resources);
    if (found) return found;
  }
  return undefined;
}

/** A quoted static header value of a mapping (`'value'`), as API Gateway takes it. */
const staticValue = (v: unknown): string | undefined => (typeof v === 'string' && /^'.*'$/s.test(v) ? v.slice(1, -1) : undefined);

function headersOf(params: unknown, prefix: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries((params ?? {}) as Record<string, unknown>)) {
    const value = staticValue(v);
    if (k.startsWith(prefix) && value !== undefined) out[k.slice(prefix.length).toLowerCase()] = value;
  }
  return out;
}

/**
 * A streaming integration invokes the function's `/response-streaming-invocations` path, a buffered one its
 * `/invocations` path (API Gateway's "Set up a Lambda proxy integration with payload response streaming"): a method
 * whose URI does not go with its transfer mode fails as an integration error.
 */
function streamingUriMatches(integration: Record<string, unknown>): boolean {
  return (integration.ResponseTransferMode === 'STREAM') === JSON.stringify(integration.Uri ?? '').includes('response-streaming-invocations');
}

/** Reads the template's one REST API: every method with its full resource path, authorizer and integration. */
export function restApiOf(template: CfnTemplate): RestApiModel {
  const resources = template.Resources;
  const apis = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::ApiGateway::RestApi');
  if (apis.length !== 1 || !apis[0]) throw new Error(`expected one AWS::ApiGateway::RestApi in the template, found ${apis.length}`);
  const apiId = apis[0][0];
  const pathOf = (resourceId: unknown, seen = 0): string => {
    const id = refOf(resourceId);
    const r = id ? resources[id] : undefined;
    // The API's root: Fn::GetAtt [Api, RootResourceId].
    if (!r || r.Type === 'AWS::ApiGateway::RestApi') return '';
    if (r.Type !== 'AWS::ApiGateway::Resource' || seen > 50) throw new Error(`method or resource under ${String(id)}, which is not a resource of the API`);
    return `${pathOf(r.Properties?.ParentId, seen + 1)}/${String(r.Properties?.PathPart)}`;
  };
  const authorizers = new Map<string, AuthorizerSpec>();
  for (const [logicalId, r] of Object.entries(resources)) {
    if (r.Type !== 'AWS::ApiGateway::Authorizer' || refOf(r.Properties?.RestApiId) !== apiId) continue;
    const p = r.Properties ?? {};
    const type = String(p.Type) as AuthorizerSpec['type'];
    authorizers.set(logicalId, {
      logicalId,
      type,
      identitySource: String(p.IdentitySource ?? 'method.request.header.Authorization')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
      // CloudFormation's default for a Lambda authorizer's cache is 300 seconds.
      ttlSeconds: p.AuthorizerResultTtlInSeconds === undefined ? 300 : Number(p.AuthorizerResultTtlInSeconds),
      functionLogicalId: type === 'COGNITO_USER_POOLS' ? undefined : functionIn(p.AuthorizerUri, resources),
    });
  }
  const methods: MethodSpec[] = [];
  for (const r of Object.values(resources)) {
    if (r.Type !== 'AWS::ApiGateway::Method' || refOf(r.Properties?.RestApiId) !== apiId) continue;
    const p = r.Properties ?? {};
    const integration = (p.Integration ?? {}) as Record<string, unknown>;
    const authorizerId = refOf(p.AuthorizerId);
    const first = (integration.IntegrationResponses as Record<string, unknown>[] | undefined)?.[0];
    methods.push({
      resourcePath: pathOf(p.ResourceId) || '/',
      httpMethod: String(p.HttpMethod).toUpperCase(),
      authorizationType: String(p.AuthorizationType ?? 'NONE') as AuthorizationType,
      ...(authorizerId && authorizers.has(authorizerId) ? { authorizer: authorizers.get(authorizerId) } : {}),
      integration:
        integration.Type === 'AWS_PROXY' && functionIn(integration.Uri, resources) && streamingUriMatches(integration)
          ? {
              type: 'AWS_PROXY',
              functionLogicalId: functionIn(integration.Uri, resources) as string,
              // Payload response streaming (InvokeWithResponseStream): the function writes the response as it goes.
              ...(integration.ResponseTransferMode === 'STREAM' ? { stream: true } : {}),
            }
          : integration.Type === 'MOCK'
            ? { type: 'MOCK', statusCode: Number(first?.StatusCode ?? 200), headers: headersOf(first?.ResponseParameters, 'method.response.header.') }
            : { type: 'OTHER' },
    });
  }
  const stage = Object.values(resources).find((r) => r.Type === 'AWS::ApiGateway::Stage' && refOf(r.Properties?.RestApiId) === apiId);
  const settings = ((stage?.Properties?.MethodSettings ?? []) as Record<string, unknown>[]).find((s) => s.ResourcePath === '/*' && s.HttpMethod === '*');
  const responses = new Map<string, GatewayResponseSpec>();
  for (const r of Object.values(resources)) {
    if (r.Type !== 'AWS::ApiGateway::GatewayResponse' || refOf(r.Properties?.RestApiId) !== apiId) continue;
    const p = r.Properties ?? {};
    const templates = (p.ResponseTemplates ?? {}) as Record<string, string>;
    responses.set(String(p.ResponseType), {
      statusCode: Number(p.StatusCode ?? DEFAULT_RESPONSES[String(p.ResponseType)]?.statusCode ?? 500),
      headers: { 'content-type': 'application/json', ...headersOf(p.ResponseParameters, 'gatewayresponse.header.') },
      body: templates['application/json'] ?? DEFAULT_RESPONSES[String(p.ResponseType)]?.body ?? '{"message":null}',
    });
  }
  return {
    methods,
    ...(settings?.ThrottlingRateLimit !== undefined && settings.ThrottlingBurstLimit !== undefined
      ? { throttle: { rateLimit: Number(settings.ThrottlingRateLimit), burstLimit: Number(settings.ThrottlingBurstLimit) } }
      : {}),
    responses,
    stageName: String(stage?.Properties?.StageName ?? 'local'),
  };
}

/** API Gateway's default gateway responses for the refusals the local gateway gives (body: `{"message": …}`). */
const DEFAULT_RESPONSES: Record<string, { statusCode: number; body: string }> = {
  MISSING_AUTHENTICATION_TOKEN: { statusCode: 403, body: '{"message":"Missing Authentication Token"}' },
  UNAUTHORIZED: { statusCode: 401, body: '{"message":"Unauthorized"}' },
  ACCESS_DENIED: { statusCode: 403, body: '{"message":"User is not authorized to access this resource"}' },
  THROTTLED: { statusCode: 429, body: '{"message":"Too Many Requests"}' },
  REQUEST_TOO_LARGE: { statusCode: 413, body: '{"message":"Request Too Long"}' },
  AUTHORIZER_CONFIGURATION_ERROR: { statusCode: 500, body: '{"message":null}' },
  INTEGRATION_FAILURE: { statusCode: 502, body: '{"message":"Internal server error"}' },
};

/** A gateway response of the template (its own, else API Gateway's default), as an HTTP result. */
export function gatewayResponse(model: RestApiModel, type: string): APIGatewayProxyResult {
  const own = model.responses.get(type);
  const fallback = DEFAULT_RESPONSES[type] ?? { statusCode: 500, body: '{"message":null}' };
  const errorType = type === 'MISSING_AUTHENTICATION_TOKEN' ? 'MissingAuthenticationTokenException' : type === 'ACCESS_DENIED' ? 'AccessDeniedException' : undefined;
  return {
    statusCode: own?.statusCode ?? fallback.statusCode,
    headers: { 'content-type': 'application/json', ...(own?.headers ?? {}), ...(errorType ? { 'x-amzn-errortype': errorType } : {}) },
    body: own?.body ?? fallback.body,
  };
}

/** A matched route: the method and the path parameters its `{name}` segments took. */
export interface RouteMatch {
  method: MethodSpec;
  pathParameters: Record<string, string>;
}

/**
 * The method API Gateway routes a request to: literal path parts before `{param}` before `{proxy+}`, and the method
 * itself or ANY. None: API Gateway answers 403 Missing Authentication Token.
 */
export function matchRoute(model: RestApiModel, httpMethod: string, path: string): RouteMatch | undefined {
  // `/runs/` is `/runs`; empty segments inside the path match nothing.
  const segments = path
    .replace(/^\/+/, '')
    .replace(/\/$/, '')
    .split('/')
    .filter((s, i) => s !== '' || i > 0);
  const method = httpMethod.toUpperCase();
  const candidates: { resourcePath: string; params: Record<string, string>; rank: number[] }[] = [];
  for (const resourcePath of new Set(model.methods.map((m) => m.resourcePath))) {
    const parts = resourcePath === '/' ? [] : resourcePath.slice(1).split('/');
    const params: Record<string, string> = {};
    const rank: number[] = [];
    let ok = parts.length === segments.length;
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i] as string;
      const segment = segments[i];
      const greedy = /^\{(.+)\+\}$/.exec(part)?.[1];
      if (greedy && i === parts.length - 1) {
        ok = segments.length > i && segments.slice(i).every((s) => s !== '');
        params[greedy] = segments.slice(i).map(decodeSegment).join('/');
        rank.push(0);
        break;
      }
      if (segment === undefined || segment === '') ok = false;
      else if (/^\{.+\}$/.test(part)) {
        params[part.slice(1, -1)] = decodeSegment(segment);
        rank.push(1);
      } else if (part === segment) rank.push(2);
      else ok = false;
      if (!ok) break;
    }
    if (ok) candidates.push({ resourcePath, params, rank });
  }
  // The most literal resource wins (compared part by part from the left), as API Gateway prefers /runs/x to /runs/{id}.
  const best = candidates.sort((a, b) => {
    for (let i = 0; i < Math.max(a.rank.length, b.rank.length); i++) {
      const d = (b.rank[i] ?? -1) - (a.rank[i] ?? -1);
      if (d !== 0) return d;
    }
    return 0;
  })[0];
  if (!best) return undefined;
  const own = model.methods.filter((m) => m.resourcePath === best.resourcePath);
  const found = own.find((m) => m.httpMethod === method) ?? own.find((m) => m.httpMethod === 'ANY');
  return found ? { method: found, pathParameters: best.params } : undefined;
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/**
 * The stage's throttle: a token bucket of `burstLimit` tokens refilled at `rateLimit` per second, as API Gateway
 * describes its throttling; a request finding the bucket empty is refused (429).
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  constructor(
    readonly rateLimit: number,
    readonly burstLimit: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = burstLimit;
    this.last = now();
  }
  take(): boolean {
    const t = this.now();
    this.tokens = Math.min(this.burstLimit, this.tokens + ((t - this.last) / 1000) * this.rateLimit);
    this.last = t;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/** What a Lambda authorizer returns: the caller, a policy, and context passed to the integration. */
interface AuthorizerResult {
  principalId?: string;
  policyDocument?: { Statement?: { Effect?: string; Action?: string | string[]; Resource?: string | string[] }[] };
  context?: Record<string, string | number | boolean>;
}

/** Whether an IAM-style ARN pattern (`*` and `?` wildcards) matches an ARN. */
function arnLike(pattern: string, arn: string): boolean {
  const re = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  );
  return re.test(arn);
}

/** Whether a policy allows `execute-api:Invoke` on the method ARN: an Allow matches and no Deny does. */
export function policyAllows(result: AuthorizerResult, methodArn: string): boolean {
  const statements = result.policyDocument?.Statement ?? [];
  const matches = (s: (typeof statements)[number]) => {
    const actions = ([] as string[]).concat(s.Action ?? []);
    const resources = ([] as string[]).concat(s.Resource ?? []);
    return actions.some((a) => arnLike(a, 'execute-api:Invoke')) && resources.some((r) => arnLike(r, methodArn));
  };
  if (statements.some((s) => s.Effect === 'Deny' && matches(s))) return false;
  return statements.some((s) => s.Effect === 'Allow' && matches(s));
}

/** The local gateway's collaborators: the engine's functions, and the stand-in for Cognito. */
export interface GatewayDeps {
  /** The template the API is read from (read again when the engine deploys another one). */
  template: () => CfnTemplate;
  /** Invokes a template function's deployed handler with an event, as Lambda would. */
  invoke: (functionLogicalId: string, event: unknown) => Promise<unknown>;
  /**
   * Invokes a streaming integration's function as InvokeWithResponseStream would: the response stream it writes
   * (local/response-stream.ts relays it). Without it a STREAM method answers as a failed integration.
   */
  invokeStream?: (functionLogicalId: string, event: APIGatewayProxyEvent) => unknown;
  /** The Cognito authorizer's verdict on an identity source value (the token): its claims, or null. */
  verifyCognito: (authorization: string) => Promise<AuthorizerClaims | null>;
  /**
   * Before a Lambda authorizer: a development token of the local config (`localTokens`, `adminTokens`) stands for the
   * context the authorizer would return for that caller. None: the authorizer decides.
   */
  devCaller?: (authorization: string) => Promise<Record<string, string> | null>;
  now?: () => number;
  /** Apply the stage's throttle (default true). */
  throttle?: boolean;
  onError?: (message: string, err: unknown) => void;
}

const API_ID = 'local';

/** A streaming integration's answer: the function's response stream, relayed as it is written. */
export interface StreamedResult {
  stream: unknown;
}

/** One REST API in front of the engine's functions, with its throttle and its authorizers' cache. */
export class LocalApiGateway {
  private model: RestApiModel | undefined;
  private modelOf: CfnTemplate | undefined;
  private bucket: TokenBucket | undefined;
  private readonly cache = new Map<string, { result: AuthorizerResult; expires: number }>();
  private readonly now: () => number;

  constructor(private readonly deps: GatewayDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** The API as the current template defines it. */
  api(): RestApiModel {
    const template = this.deps.template();
    if (!this.model || this.modelOf !== template) {
      this.model = restApiOf(template);
      this.modelOf = template;
      this.bucket = this.model.throttle && this.deps.throttle !== false ? new TokenBucket(this.model.throttle.rateLimit, this.model.throttle.burstLimit, this.now) : undefined;
      this.cache.clear();
    }
    return this.model;
  }

  /** One request, through what API Gateway does before and around the integration. */
  async handle(req: HttpRequest & { bodyBytes: number }): Promise<APIGatewayProxyResult | StreamedResult> {
    const model = this.api();
    if (req.bodyBytes > MAX_PAYLOAD_BYTES) return gatewayResponse(model, 'REQUEST_TOO_LARGE');
    const url = new URL(req.url, 'http://localhost');
    const route = matchRoute(model, req.method, url.pathname);
    if (!route) return gatewayResponse(model, 'MISSING_AUTHENTICATION_TOKEN');
    if (this.bucket && !this.bucket.take()) return gatewayResponse(model, 'THROTTLED');
    const { method } = route;
    if (method.integration.type === 'MOCK') return { statusCode: method.integration.statusCode, headers: method.integration.headers, body: '' };
    if (method.integration.type !== 'AWS_PROXY') return gatewayResponse(model, 'INTEGRATION_FAILURE');
    const base = toProxyEvent(req, null, model.stageName, { resource: method.resourcePath, pathParameters: route.pathParameters });
    let authorizer: Record<string, unknown> | null = null;
    if (method.authorizationType === 'COGNITO_USER_POOLS') {
      const token = identityValues(method.authorizer, base)[0];
      const claims = token ? await this.deps.verifyCognito(token) : null;
      if (!claims) return gatewayResponse(model, 'UNAUTHORIZED');
      authorizer = { claims };
    } else if (method.authorizationType === 'CUSTOM' && method.authorizer) {
      const outcome = await this.authorize(model, method.authorizer, base);
      if ('refusal' in outcome) return gatewayResponse(model, outcome.refusal);
      authorizer = outcome.context;
    } else if (method.authorizationType !== 'NONE') {
      // SigV4 (AWS_IAM) is not emulated: refused as an unsigned request would be.
      return gatewayResponse(model, 'MISSING_AUTHENTICATION_TOKEN');
    }
    const event: APIGatewayProxyEvent = { ...base, requestContext: { ...base.requestContext, authorizer } };
    if (method.integration.stream) {
      if (!this.deps.invokeStream) return gatewayResponse(model, 'INTEGRATION_FAILURE');
      return { stream: this.deps.invokeStream(method.integration.functionLogicalId, event) };
    }
    try {
      return (await this.deps.invoke(method.integration.functionLogicalId, event)) as APIGatewayProxyResult;
    } catch (err) {
      // An unhandled Lambda error: API Gateway answers 502 without the error's details.
      this.deps.onError?.('API handler failed', err);
      return gatewayResponse(model, 'INTEGRATION_FAILURE');
    }
  }

  /**
   * A Lambda authorizer as API Gateway runs it: every identity source present (else 401 without invoking it), its
   * answer cached by the identity source values for the authorizer's TTL, `Unauthorized` thrown → 401, a policy that
   * does not allow this method → 403, any other failure → 500.
   */
  private async authorize(model: RestApiModel, spec: AuthorizerSpec, event: APIGatewayProxyEvent): Promise<{ context: Record<string, unknown> } | { refusal: string }> {
    const values = identityValues(spec, event);
    if (values.length < spec.identitySource.length || values.some((v) => v === '')) return { refusal: 'UNAUTHORIZED' };
    const methodArn = `arn:aws:execute-api:${LOCAL_REGION}:${LOCAL_ACCOUNT}:${API_ID}/${model.stageName}/${event.httpMethod}${event.path}`;
    const dev = this.deps.devCaller ? await this.deps.devCaller(values[0] as string) : null;
    if (dev) return { context: dev };
    if (!spec.functionLogicalId) return { refusal: 'AUTHORIZER_CONFIGURATION_ERROR' };
    const key = JSON.stringify([spec.logicalId, values]);
    const cached = this.cache.get(key);
    let result: AuthorizerResult;
    if (cached && cached.expires > this.now()) result = cached.result;
    else {
      this.cache.delete(key);
      const request: APIGatewayRequestAuthorizerEvent = {
        type: 'REQUEST',
        methodArn,
        resource: event.resource,
        path: event.path,
        httpMethod: event.httpMethod,
        headers: event.headers,
        multiValueHeaders: event.multiValueHeaders,
        pathParameters: event.pathParameters,
        queryStringParameters: event.queryStringParameters,
        multiValueQueryStringParameters: event.multiValueQueryStringParameters,
        stageVariables: null,
        requestContext: event.requestContext as APIGatewayRequestAuthorizerEvent['requestContext'],
      };
      try {
        result = (await this.deps.invoke(
          spec.functionLogicalId,
          spec.type === 'TOKEN' ? { type: 'TOKEN', methodArn, authorizationToken: values[0] } : request,
        )) as AuthorizerResult;
      } catch (err) {
        if (err instanceof Error && err.message === 'Unauthorized') return { refusal: 'UNAUTHORIZED' };
        this.deps.onError?.('authorizer failed', err);
        return { refusal: 'AUTHORIZER_CONFIGURATION_ERROR' };
      }
      if (!result || typeof result.principalId !== 'string' || !result.policyDocument) return { refusal: 'AUTHORIZER_CONFIGURATION_ERROR' };
      if (spec.ttlSeconds > 0) this.cache.set(key, { result, expires: this.now() + spec.ttlSeconds * 1000 });
    }
    if (!policyAllows(result, methodArn)) return { refusal: 'ACCESS_DENIED' };
    // The integration sees the authorizer's context values as strings, and the principal id.
    const context = Object.fromEntries(Object.entries(result.context ?? {}).map(([k, v]) => [k, String(v)]));
    return { context: { ...context, principalId: result.principalId, integrationLatency: 0 } };
  }
}

/** The values of an authorizer's identity sources in a request (headers case-insensitively, query parameters). */
function identityValues(spec: AuthorizerSpec | undefined, event: APIGatewayProxyEvent): string[] {
  const sources = spec?.identitySource ?? ['method.request.header.Authorization'];
  const headers = new Map(Object.entries(event.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  const out: string[] = [];
  for (const source of sources) {
    const header = /^method\.request\.header\.(.+)$/i.exec(source)?.[1];
    const query = /^method\.request\.querystring\.(.+)$/i.exec(source)?.[1];
    const value = header ? headers.get(header.toLowerCase()) : query ? event.queryStringParameters?.[query] : undefined;
    if (value !== undefined && value !== null) out.push(String(value).trim());
  }
  return out;
}
