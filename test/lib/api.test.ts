import { Match, Template } from 'aws-cdk-lib/assertions';
import { parseConfig } from '../../lib/config';
import { API_KEYS_CONFIG, templateFor } from '../helpers/engine';

describe('the API Gateway API', () => {
  const template = Template.fromJSON(templateFor(parseConfig({ api: { corsOrigin: 'https://viewer.example.com', throttle: { rateLimit: 5, burstLimit: 10 } } })));

  it('has every route of the contract, each behind the Cognito authorizer', () => {
    const all = Object.values(template.findResources('AWS::ApiGateway::Method')).filter((m) => m.Properties.HttpMethod !== 'OPTIONS');
    // GET / is the static viewer page and GET /config the public sign-in settings; every other route is authorized.
    const open = all.filter((m) => m.Properties.AuthorizationType === 'NONE');
    expect(open).toHaveLength(2);
    for (const m of open) expect(m.Properties.HttpMethod).toBe('GET');
    const resources = template.findResources('AWS::ApiGateway::Resource');
    const openPaths = open.map((m) => (m.Properties.ResourceId['Fn::GetAtt'] ? '/' : resources[m.Properties.ResourceId.Ref]?.Properties.PathPart)).sort();
    expect(openPaths).toEqual(['/', 'config']);
    const methods = all.filter((m) => !open.includes(m));
    expect(methods).toHaveLength(22);
    for (const m of methods) {
      expect(m.Properties.AuthorizationType).toBe('COGNITO_USER_POOLS');
      expect(m.Properties.AuthorizerId).toBeDefined();
    }
    const paths = Object.values(template.findResources('AWS::ApiGateway::Resource'))
      .map((r) => r.Properties.PathPart)
      .sort();
    expect(paths).toEqual(
      [
        'cancel',
        'config',
        'pause',
        'resume',
        'runs',
        'trace',
        '{id}',
        'admin',
        'stop',
        'disable',
        'enable',
        'spend',
        'runs',
        'reads',
        'threads',
        '{id}',
        'runs',
        'users',
        '{userId}',
        'events',
        'approvals',
        '{toolCallId}',
        'queue',
        '{runId}',
      ].sort(),
    );
  });

  it('streams GET /runs/{id}/events: a Lambda proxy integration with ResponseTransferMode STREAM on its own function', () => {
    const resources = template.findResources('AWS::ApiGateway::Resource');
    const eventsId = Object.entries(resources).find(([, r]) => r.Properties.PathPart === 'events')?.[0];
    const methods = Object.values(template.findResources('AWS::ApiGateway::Method')).filter(
      (m) => m.Properties.ResourceId.Ref === eventsId && m.Properties.HttpMethod !== 'OPTIONS',
    );
    expect(methods).toHaveLength(1);
    const [events] = methods;
    expect(events?.Properties).toMatchObject({ HttpMethod: 'GET', AuthorizationType: 'COGNITO_USER_POOLS', Integration: { Type: 'AWS_PROXY', ResponseTransferMode: 'STREAM' } });
    // InvokeWithResponseStream: the streaming invocation path, on the run-events function (not the buffered API one).
    const uri = JSON.stringify(events?.Properties.Integration.Uri);
    expect(uri).toContain('response-streaming-invocations');
    const fnId = Object.entries(template.findResources('AWS::Lambda::Function')).find(([, f]) => f.Properties.Environment?.Variables?.HANDLER_NAME === 'run-events')?.[0];
    expect(fnId).toBeDefined();
    expect(uri).toContain(fnId);
    // Others stay buffered.
    const buffered = Object.values(template.findResources('AWS::ApiGateway::Method')).filter(
      (m) => m.Properties.ResourceId.Ref !== eventsId && m.Properties.HttpMethod !== 'OPTIONS',
    );
    for (const m of buffered) expect(m.Properties.Integration.ResponseTransferMode).toBeUndefined();
  });

  it('creates the agent-admins group the admin routes check', () => {
    template.hasResourceProperties('AWS::Cognito::UserPoolGroup', { GroupName: 'agent-admins' });
  });

  it('throttles the stage and writes access logs', () => {
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      MethodSettings: Match.arrayWith([Match.objectLike({ ThrottlingRateLimit: 5, ThrottlingBurstLimit: 10 })]),
      AccessLogSetting: Match.objectLike({ DestinationArn: Match.anyValue(), Format: Match.anyValue() }),
    });
  });

  it('allows CORS from the viewer’s origin only', () => {
    const options = Object.values(template.findResources('AWS::ApiGateway::Method')).filter((m) => m.Properties.HttpMethod === 'OPTIONS');
    expect(options.length).toBeGreaterThan(0);
    const origins = new Set(
      options.map((m) => JSON.stringify(m.Properties.Integration.IntegrationResponses[0].ResponseParameters['method.response.header.Access-Control-Allow-Origin'])),
    );
    expect([...origins]).toEqual(['"\'https://viewer.example.com\'"']);
  });

  it('verifies callers against an existing user pool when configured', () => {
    const existing = Template.fromJSON(templateFor(parseConfig({ api: { userPoolId: 'us-east-1_AbCdEf123' } })));
    existing.resourceCountIs('AWS::Cognito::UserPool', 0);
    existing.hasResourceProperties('AWS::ApiGateway::Authorizer', { Type: 'COGNITO_USER_POOLS', ProviderARNs: [Match.objectLike({ 'Fn::Join': Match.anyValue() })] });
  });
});

describe('the API with API keys (api.auth "apiKeys")', () => {
  const template = Template.fromJSON(templateFor(parseConfig(API_KEYS_CONFIG)));

  it('has no user pool nor anything else of Cognito', () => {
    const cognito = Object.values(template.toJSON().Resources as Record<string, { Type: string }>).filter((r) => r.Type.startsWith('AWS::Cognito::'));
    expect(cognito).toEqual([]);
    expect(Object.keys(template.findOutputs('UserPoolId'))).toEqual([]);
    template.hasOutput('Auth', { Value: 'apiKeys' });
  });

  it('puts every data route behind the Lambda REQUEST authorizer, its answer cached as configured, and serves the key routes', () => {
    template.hasResourceProperties('AWS::ApiGateway::Authorizer', { Type: 'REQUEST', IdentitySource: 'method.request.header.Authorization', AuthorizerResultTtlInSeconds: 0 });
    const authorizers = Object.keys(template.findResources('AWS::ApiGateway::Authorizer'));
    expect(authorizers).toHaveLength(1);
    const methods = Object.values(template.findResources('AWS::ApiGateway::Method')).filter(
      (m) => m.Properties.HttpMethod !== 'OPTIONS' && m.Properties.AuthorizationType !== 'NONE',
    );
    expect(methods.length).toBeGreaterThanOrEqual(17);
    for (const m of methods) expect(m.Properties).toMatchObject({ AuthorizationType: 'CUSTOM', AuthorizerId: { Ref: authorizers[0] } });
    const fns = Object.values(template.findResources('AWS::Lambda::Function')).filter((f) => f.Properties.Environment?.Variables?.HANDLER_NAME === 'authorizer');
    expect(fns).toHaveLength(1);
  });

  it('keeps the app’s error shape in API Gateway’s own 401, 403, 413 and 429', () => {
    for (const [type, status] of [
      ['UNAUTHORIZED', '401'],
      ['ACCESS_DENIED', '403'],
      ['REQUEST_TOO_LARGE', '413'],
      ['THROTTLED', '429'],
    ]) {
      template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
        ResponseType: type,
        StatusCode: status,
        ResponseTemplates: { 'application/json': Match.stringLikeRegexp('"error":\\{"code":') },
      });
    }
  });

  it('refuses Cognito settings that cannot apply without a pool', () => {
    expect(() => parseConfig({ api: { auth: 'apiKeys', userPoolId: 'us-east-1_AbCdEf123' } })).toThrow(/userPoolId.*does not apply with api.auth "apiKeys"/s);
    expect(() => parseConfig({ api: { authorizerCacheSeconds: 4000 } })).toThrow(/authorizerCacheSeconds/);
  });
});
