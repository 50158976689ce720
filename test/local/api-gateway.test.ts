import type { APIGatewayProxyResult } from 'aws-lambda';
import { servedRoutes } from '../../lambdas/api/routes';
import { GATEWAY_ERRORS } from '../../lib/api';
import { parseConfig } from '../../lib/config';
import { LocalApiGateway, MAX_PAYLOAD_BYTES, matchRoute, policyAllows, restApiOf, TokenBucket } from '../../local/api-gateway';
import type { CfnTemplate } from '../../local/template';
import { API_KEYS_CONFIG, templateFor } from '../helpers/engine';

const TOKEN = 'Bearer good-token';
const template = templateFor(parseConfig({}));
const keysTemplate = templateFor(parseConfig(API_KEYS_CONFIG));

/** A gateway over a template whose integration records the events it gets and answers 200. */
function gatewayOver(t: CfnTemplate, options: { now?: () => number } = {}) {
  const invoked: { fn: string; event: Record<string, unknown> }[] = [];
  const gateway = new LocalApiGateway({
    template: () => t,
    invoke: async (fn, event) => {
      invoked.push({ fn, event: event as Record<string, unknown> });
      return { statusCode: 200, headers: {}, body: '{}' };
    },
    // A streaming integration (GET /runs/{id}/events): recorded the same way; its answer is the stream.
    invokeStream: (fn, event) => {
      invoked.push({ fn, event: event as unknown as Record<string, unknown> });
      return 'a response stream';
    },
    verifyCognito: async (authorization) => (authorization === TOKEN ? { sub: 'alice' } : null),
    ...options,
  });
  const call = async (method: string, path: string, headers: Record<string, string> = { authorization: TOKEN }, bodyBytes = 0): Promise<APIGatewayProxyResult> => {
    const result = await gateway.handle({ method, url: path, headers, body: '', bodyBytes });
    return 'stream' in result ? { statusCode: 200, headers: {}, body: String(result.stream) } : result;
  };
  return { gateway, invoked, call };
}

/** A concrete request path for a route template (`/runs/{id}` → `/runs/r-1`). */
const concrete = (path: string) => path.replace(/\{[^}]+\}/g, (m) => `${m.slice(1, -1)}-1`);

const withoutMethod = (t: CfnTemplate, logicalId: string): CfnTemplate => {
  const copy = JSON.parse(JSON.stringify(t)) as CfnTemplate;
  delete copy.Resources[logicalId];
  return copy;
};

describe('API Gateway as the template defines it', () => {
  const api = restApiOf(template);
  const defined = api.methods.filter((m) => m.httpMethod !== 'OPTIONS').map((m) => `${m.httpMethod} ${m.resourcePath}`);

  it('defines every route the API handler serves, with its method, and nothing else', () => {
    expect([...defined].sort()).toEqual([...servedRoutes()].sort());
    expect(defined).toContain('POST /runs/{id}/approvals/{toolCallId}');
  });

  it('answers 403 Missing Authentication Token, before the Lambda, for any route dropped from the template', async () => {
    const methods = Object.entries(template.Resources).filter(([, r]) => r.Type === 'AWS::ApiGateway::Method' && r.Properties?.HttpMethod !== 'OPTIONS');
    expect(methods.length).toBe(servedRoutes().length);
    for (const [logicalId] of methods) {
      const left = restApiOf(withoutMethod(template, logicalId)).methods;
      // The route that method was: the one the API no longer has.
      const route = api.methods.find((m) => !left.some((x) => x.httpMethod === m.httpMethod && x.resourcePath === m.resourcePath));
      if (!route) throw new Error(`${logicalId} is no route`);
      const intact = gatewayOver(template);
      expect((await intact.call(route.httpMethod, concrete(route.resourcePath))).statusCode).toBe(200);
      const dropped = gatewayOver(withoutMethod(template, logicalId));
      const res = await dropped.call(route.httpMethod, concrete(route.resourcePath));
      expect({ route: `${route.httpMethod} ${route.resourcePath}`, status: res.statusCode, body: res.body }).toEqual({
        route: `${route.httpMethod} ${route.resourcePath}`,
        status: 403,
        body: '{"message":"Missing Authentication Token"}',
      });
      expect(dropped.invoked).toEqual([]);
    }
  });

  it('routes as API Gateway does: methods of a resource only, literal parts before parameters, parameters decoded', async () => {
    const { call, invoked } = gatewayOver(template);
    expect((await call('DELETE', '/runs/r-1')).statusCode).toBe(403);
    expect((await call('GET', '/nope')).statusCode).toBe(403);
    expect((await call('GET', '/runs/a/b/c/d')).statusCode).toBe(403);
    expect(matchRoute(api, 'GET', '/admin/runs')?.method.resourcePath).toBe('/admin/runs');
    expect(matchRoute(api, 'GET', '/runs/')?.method.resourcePath).toBe('/runs');
    expect(matchRoute(api, 'POST', '/runs/r%201/approvals/call%3A1')?.pathParameters).toEqual({ id: 'r 1', toolCallId: 'call:1' });
    expect((await call('POST', '/runs/r-1/approvals/c-1')).statusCode).toBe(200);
    expect(invoked.at(-1)?.event).toMatchObject({
      resource: '/runs/{id}/approvals/{toolCallId}',
      path: '/runs/r-1/approvals/c-1',
      pathParameters: { id: 'r-1', toolCallId: 'c-1' },
      requestContext: { authorizer: { claims: { sub: 'alice' } } },
    });
    // The open routes reach the handler with no caller.
    expect((await call('GET', '/', {})).statusCode).toBe(200);
    expect(invoked.at(-1)?.event).toMatchObject({ requestContext: { authorizer: null } });
  });

  it('401 in the template’s gateway response for a missing or refused token, the Lambda never invoked', async () => {
    const { call, invoked } = gatewayOver(template);
    for (const headers of [{}, { authorization: '' }, { authorization: 'Bearer bad' }] as Record<string, string>[]) {
      const res = await call('GET', '/runs', headers);
      expect(res.statusCode).toBe(401);
      expect(JSON.parse(res.body)).toEqual({ error: { code: GATEWAY_ERRORS.Unauthorized.code, message: GATEWAY_ERRORS.Unauthorized.message } });
    }
    expect(invoked).toEqual([]);
  });

  it('413 past the 10 MB payload limit, before routing or authorizing', async () => {
    const { call, invoked } = gatewayOver(template);
    const res = await call('POST', '/runs', {}, MAX_PAYLOAD_BYTES + 1);
    expect(res.statusCode).toBe(413);
    expect(JSON.parse(res.body).error.code).toBe(GATEWAY_ERRORS.TooLarge.code);
    expect((await call('POST', '/runs', { authorization: TOKEN }, MAX_PAYLOAD_BYTES)).statusCode).toBe(200);
    expect(invoked).toHaveLength(1);
  });

  it('429 past the stage’s throttle (burst, then the rate), as the template sets it', async () => {
    const stage = Object.values(template.Resources).find((r) => r.Type === 'AWS::ApiGateway::Stage');
    const settings = ((stage?.Properties?.MethodSettings ?? []) as Record<string, unknown>[])[0];
    expect(settings).toMatchObject({ ResourcePath: '/*', HttpMethod: '*', ThrottlingRateLimit: 20, ThrottlingBurstLimit: 40 });
    let now = 1_000_000;
    const { call } = gatewayOver(template, { now: () => now });
    const statuses: number[] = [];
    for (let i = 0; i < 41; i++) statuses.push((await call('GET', '/runs')).statusCode);
    expect(statuses.slice(0, 40).every((s) => s === 200)).toBe(true);
    expect(statuses[40]).toBe(429);
    const throttled = await call('GET', '/runs');
    expect(JSON.parse(throttled.body).error.code).toBe(GATEWAY_ERRORS.Throttled.code);
    now += 500; // half a second at 20 per second: 10 more
    const after: number[] = [];
    for (let i = 0; i < 11; i++) after.push((await call('GET', '/runs')).statusCode);
    expect(after.filter((s) => s === 200)).toHaveLength(10);
  });

  it('a token bucket: burst first, refilled at the rate, never above the burst', () => {
    let now = 0;
    const bucket = new TokenBucket(2, 3, () => now);
    expect([bucket.take(), bucket.take(), bucket.take(), bucket.take()]).toEqual([true, true, true, false]);
    now = 500;
    expect([bucket.take(), bucket.take()]).toEqual([true, false]);
    now = 60_000;
    expect([bucket.take(), bucket.take(), bucket.take(), bucket.take()]).toEqual([true, true, true, false]);
  });

  it('a Lambda authorizer’s policy: an Allow on the method ARN (wildcards) and no Deny', () => {
    const arn = 'arn:aws:execute-api:local:000000000000:local/prod/GET/runs';
    const allow = (resource: string) => ({ principalId: 'u', policyDocument: { Statement: [{ Effect: 'Allow', Action: 'execute-api:Invoke', Resource: resource }] } });
    expect(policyAllows(allow('arn:aws:execute-api:local:000000000000:local/prod/*'), arn)).toBe(true);
    expect(policyAllows(allow('arn:aws:execute-api:local:000000000000:local/prod/POST/*'), arn)).toBe(false);
    expect(
      policyAllows(
        { principalId: 'u', policyDocument: { Statement: [allow('*').policyDocument.Statement[0] as never, { Effect: 'Deny', Action: 'execute-api:*', Resource: arn }] } },
        arn,
      ),
    ).toBe(false);
    expect(policyAllows({ principalId: 'u' }, arn)).toBe(false);
  });

  describe('a Lambda REQUEST authorizer (api.auth "apiKeys")', () => {
    /** The keys template with the authorizer's cache set to `ttl` seconds, and an authorizer answering `answer`. */
    function keysGateway(ttl: number, answer: (authorization: string) => unknown) {
      const t = JSON.parse(JSON.stringify(keysTemplate)) as CfnTemplate;
      for (const r of Object.values(t.Resources)) if (r.Type === 'AWS::ApiGateway::Authorizer' && r.Properties) r.Properties.AuthorizerResultTtlInSeconds = ttl;
      const api = restApiOf(t);
      const authorizerFn = api.methods.find((m) => m.authorizer)?.authorizer?.functionLogicalId;
      let now = 0;
      const calls: string[] = [];
      const gateway = new LocalApiGateway({
        template: () => t,
        now: () => now,
        invoke: async (fn, event) => {
          if (fn !== authorizerFn) return { statusCode: 200, headers: {}, body: JSON.stringify((event as { requestContext: unknown }).requestContext) };
          const authorization = String((event as { headers: Record<string, string> }).headers.authorization);
          calls.push(authorization);
          const out = answer(authorization);
          if (out instanceof Error) throw out;
          return out;
        },
        verifyCognito: async () => null,
      });
      const call = async (authorization?: string, method = 'GET', path = '/runs') =>
        (await gateway.handle({ method, url: path, headers: authorization ? { authorization } : {}, body: '', bodyBytes: 0 })) as APIGatewayProxyResult;
      return { call, calls, tick: (seconds: number) => (now += seconds * 1000), authorizerFn };
    }
    const allowAll = (userId: string) => ({
      principalId: userId,
      policyDocument: { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: 'arn:aws:execute-api:local:000000000000:local/prod/*' }] },
      context: { userId, admin: 'false' },
    });

    it('the keys template defines every route the handler serves with API keys (the key routes too), each behind the authorizer', () => {
      const api = restApiOf(keysTemplate);
      const routes = api.methods.filter((m) => m.httpMethod !== 'OPTIONS');
      expect(routes.map((m) => `${m.httpMethod} ${m.resourcePath}`).sort()).toEqual([...servedRoutes('apiKeys')].sort());
      expect(servedRoutes('apiKeys')).toEqual(expect.arrayContaining(['POST /admin/keys', 'GET /admin/keys', 'DELETE /admin/keys/{keyId}']));
      for (const m of routes.filter((r) => r.authorizationType !== 'NONE'))
        expect(m.authorizer).toMatchObject({ type: 'REQUEST', identitySource: ['method.request.header.Authorization'], ttlSeconds: 0 });
    });

    it('passes the authorizer’s principal and context to the integration; 401 when it throws Unauthorized or the header is missing; 403 on Deny', async () => {
      const { call, calls } = keysGateway(0, (a) =>
        a === 'Bearer good'
          ? allowAll('alice')
          : a === 'Bearer denied'
            ? { ...allowAll('eve'), policyDocument: { Statement: [{ Action: 'execute-api:Invoke', Effect: 'Deny', Resource: '*' }] } }
            : new Error('Unauthorized'),
      );
      const ok = await call('Bearer good');
      expect(ok.statusCode).toBe(200);
      expect(JSON.parse(ok.body).authorizer).toEqual({ userId: 'alice', admin: 'false', principalId: 'alice', integrationLatency: 0 });
      expect((await call('Bearer bad')).statusCode).toBe(401);
      expect((await call('Bearer denied')).statusCode).toBe(403);
      expect((await call()).statusCode).toBe(401);
      // No header: refused without invoking the authorizer.
      expect(calls).toEqual(['Bearer good', 'Bearer bad', 'Bearer denied']);
    });

    it('caches the answer per header for the TTL: a key revoked meanwhile keeps working until it expires', async () => {
      let revoked = false;
      const { call, calls, tick } = keysGateway(60, () => (revoked ? new Error('Unauthorized') : allowAll('alice')));
      expect((await call('Bearer k')).statusCode).toBe(200);
      revoked = true;
      tick(59);
      expect((await call('Bearer k', 'POST', '/runs')).statusCode).toBe(200);
      expect(calls).toHaveLength(1);
      tick(2);
      expect((await call('Bearer k')).statusCode).toBe(401);
      expect(calls).toHaveLength(2);
    });

    it('500 when the authorizer fails otherwise (AUTHORIZER_CONFIGURATION_ERROR), never the error to the caller', async () => {
      const { call } = keysGateway(0, () => new Error('table is gone: AgentTable123'));
      const res = await call('Bearer x');
      expect(res.statusCode).toBe(500);
      expect(res.body).not.toContain('AgentTable123');
    });
  });
});
