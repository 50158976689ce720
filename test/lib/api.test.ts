import { Match, Template } from 'aws-cdk-lib/assertions';
import { parseConfig } from '../../lib/config';
import { templateFor } from '../helpers/engine';

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
    expect(methods).toHaveLength(20);
    for (const m of methods) {
      expect(m.Properties.AuthorizationType).toBe('COGNITO_USER_POOLS');
      expect(m.Properties.AuthorizerId).toBeDefined();
    }
    const paths = Object.values(template.findResources('AWS::ApiGateway::Resource')).map((r) => r.Properties.PathPart).sort();
    expect(paths).toEqual(['cancel', 'config', 'pause', 'resume', 'runs', 'trace', '{id}', 'admin', 'stop', 'disable', 'enable', 'spend', 'runs', 'reads', 'threads', '{id}', 'runs', 'users', '{userId}', 'events'].sort());
  });

  it('streams GET /runs/{id}/events: a Lambda proxy integration with ResponseTransferMode STREAM on its own function', () => {
    const resources = template.findResources('AWS::ApiGateway::Resource');
    const eventsId = Object.entries(resources).find(([, r]) => r.Properties.PathPart === 'events')?.[0];
    const methods = Object.values(template.findResources('AWS::ApiGateway::Method')).filter((m) => m.Properties.ResourceId.Ref === eventsId && m.Properties.HttpMethod !== 'OPTIONS');
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
    const buffered = Object.values(template.findResources('AWS::ApiGateway::Method')).filter((m) => m.Properties.ResourceId.Ref !== eventsId && m.Properties.HttpMethod !== 'OPTIONS');
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
    const origins = new Set(options.map((m) => JSON.stringify(m.Properties.Integration.IntegrationResponses[0].ResponseParameters['method.response.header.Access-Control-Allow-Origin'])));
    expect([...origins]).toEqual(['"\'https://viewer.example.com\'"']);
  });

  it('verifies callers against an existing user pool when configured', () => {
    const existing = Template.fromJSON(templateFor(parseConfig({ api: { userPoolId: 'us-east-1_AbCdEf123' } })));
    existing.resourceCountIs('AWS::Cognito::UserPool', 0);
    existing.hasResourceProperties('AWS::ApiGateway::Authorizer', { Type: 'COGNITO_USER_POOLS', ProviderARNs: [Match.objectLike({ 'Fn::Join': Match.anyValue() })] });
  });
});
