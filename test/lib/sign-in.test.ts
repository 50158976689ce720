import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AgentStack } from '../../lib/agent-stack';
import { type AgentConfigInput, parseConfig } from '../../lib/config';
import { TEMPLATE_ONLY_APP_PROPS } from '../../local/template';

/** The stack's template, synthesized in-process (asset bundling skipped). */
function synth(config: AgentConfigInput = {}): Template {
  const app = new App(TEMPLATE_ONLY_APP_PROPS);
  return Template.fromStack(new AgentStack(app, 'AgentStack', { config: parseConfig(config) }));
}

/** Every resource's dependencies (Ref, Fn::GetAtt, DependsOn) by logical id. */
function dependencies(template: Template): Map<string, Set<string>> {
  const resources = template.toJSON().Resources as Record<string, { DependsOn?: string | string[] }>;
  const graph = new Map<string, Set<string>>();
  const walk = (v: unknown, into: Set<string>) => {
    if (Array.isArray(v)) {
      for (const x of v) walk(x, into);
    } else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (k === 'Ref' && typeof x === 'string' && x in resources) into.add(x);
        else if (k === 'Fn::GetAtt') into.add(String((x as string[])[0]));
        else walk(x, into);
      }
    }
  };
  for (const [id, r] of Object.entries(resources)) {
    const deps = new Set<string>([r.DependsOn ?? []].flat());
    walk(r, deps);
    graph.set(id, deps);
  }
  return graph;
}

function findCycle(graph: Map<string, Set<string>>): string[] | null {
  const state = new Map<string, 'open' | 'done'>();
  const visit = (id: string, path: string[]): string[] | null => {
    if (state.get(id) === 'done') return null;
    if (state.get(id) === 'open') return [...path, id];
    state.set(id, 'open');
    for (const d of graph.get(id) ?? []) {
      const cycle = visit(d, [...path, id]);
      if (cycle) return cycle;
    }
    state.set(id, 'done');
    return null;
  };
  for (const id of graph.keys()) {
    const cycle = visit(id, []);
    if (cycle) return cycle;
  }
  return null;
}

describe('signing in to a new user pool', () => {
  let template: Template;
  beforeAll(() => {
    template = synth();
  });

  it('has a public app client: no secret, SRP and refresh for the CLI, code grant for the viewer', () => {
    template.resourceCountIs('AWS::Cognito::UserPoolClient', 1);
    const [client] = Object.values(template.findResources('AWS::Cognito::UserPoolClient'));
    const p = client?.Properties;
    expect(p.GenerateSecret).toBe(false);
    expect([...p.ExplicitAuthFlows].sort()).toEqual(['ALLOW_REFRESH_TOKEN_AUTH', 'ALLOW_USER_SRP_AUTH']);
    expect(p.AllowedOAuthFlows).toEqual(['code']);
    expect(p.AllowedOAuthFlowsUserPoolClient).toBe(true);
    expect(p.AllowedOAuthScopes).toEqual(expect.arrayContaining(['openid', 'email']));
    expect(p.SupportedIdentityProviders).toEqual(['COGNITO']);
    expect(p.PreventUserExistenceErrors).toBe('ENABLED');
    // The only callback is the viewer: GET / of this API's stage.
    expect(p.CallbackURLs).toHaveLength(1);
    const callback = JSON.stringify(p.CallbackURLs[0]);
    expect(callback).toMatch(/"Ref":"Api[0-9A-F]+"/);
    expect(callback).toContain('.execute-api.');
    expect(callback).toContain('/prod/');
    expect(p.LogoutURLs).toEqual(p.CallbackURLs);
  });

  it('has a managed login domain with a prefix derived from the stack id, and Cognito’s default branding', () => {
    template.hasResourceProperties('AWS::Cognito::UserPoolDomain', {
      ManagedLoginVersion: 2,
      Domain: { 'Fn::Join': ['', ['agent-', { 'Fn::Select': [2, { 'Fn::Split': ['/', { Ref: 'AWS::StackId' }] }] }]] },
    });
    template.hasResourceProperties('AWS::Cognito::ManagedLoginBranding', { UseCognitoProvidedValues: true, ClientId: { Ref: Match.stringLikeRegexp('Client') } });
  });

  it('takes a configured domain prefix', () => {
    synth({ api: { domainPrefix: 'my-agent-login' } }).hasResourceProperties('AWS::Cognito::UserPoolDomain', { Domain: 'my-agent-login' });
  });

  it('has the agent-admins group', () => {
    template.hasResourceProperties('AWS::Cognito::UserPoolGroup', { GroupName: 'agent-admins', UserPoolId: { Ref: Match.stringLikeRegexp('Users') } });
  });

  it('outputs every value a client needs', () => {
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    for (const name of ['ApiUrl', 'ViewerUrl', 'Region', 'UserPoolId', 'UserPoolClientId', 'AuthDomain']) expect(outputs[name]).toBeDefined();
    expect(outputs.Region?.Value).toEqual({ Ref: 'AWS::Region' });
    expect(JSON.stringify(outputs.AuthDomain?.Value)).toContain('.auth.');
    expect(JSON.stringify(outputs.AuthDomain?.Value)).toContain('amazoncognito.com');
    expect(outputs.ViewerUrl?.Value).toEqual(outputs.ApiUrl?.Value);
  });

  it('serves the sign-in settings on a public GET /config, from the API function’s environment', () => {
    const config = Object.entries(template.findResources('AWS::ApiGateway::Resource')).find(([, r]) => r.Properties.PathPart === 'config');
    expect(config).toBeDefined();
    template.hasResourceProperties('AWS::ApiGateway::Method', { HttpMethod: 'GET', AuthorizationType: 'NONE', ResourceId: { Ref: config?.[0] } });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          HANDLER_NAME: 'api',
          USER_POOL_ID: { Ref: Match.stringLikeRegexp('Users') },
          USER_POOL_CLIENT_ID: { Ref: Match.stringLikeRegexp('Client') },
          AUTH_DOMAIN: Match.anyValue(),
        }),
      },
    });
  });

  it('has no circular dependency (the client’s callback is the stage URL, the API function names the client)', () => {
    expect(findCycle(dependencies(template))).toBeNull();
  });
});

describe('signing in to an existing user pool', () => {
  it('creates no pool, client, domain or group, and reports the configured client and domain', () => {
    const template = synth({ api: { userPoolId: 'eu-west-1_AbCdEf123', userPoolClientId: 'abc123def456', authDomain: 'https://login.example.com' } });
    for (const type of ['UserPool', 'UserPoolClient', 'UserPoolDomain', 'UserPoolGroup']) template.resourceCountIs(`AWS::Cognito::${type}`, 0);
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(outputs.UserPoolId?.Value).toBe('eu-west-1_AbCdEf123');
    expect(outputs.UserPoolClientId?.Value).toBe('abc123def456');
    expect(outputs.AuthDomain?.Value).toBe('https://login.example.com');
  });

  it('refuses a client or domain without an existing pool', () => {
    expect(() => parseConfig({ api: { userPoolClientId: 'abc123' } })).toThrow(/api.userPoolClientId: only applies with api.userPoolId/);
    expect(() => parseConfig({ api: { domainPrefix: 'my-aws-agent' } })).toThrow(/may not contain "aws"/);
  });
});

describe('what the idle stack pays for', () => {
  it('leaves out the alarms and the dashboard when switched off, and keeps logs as long as configured', () => {
    const template = synth({ observability: { monitoring: { alarms: false, dashboard: false, logRetentionDays: 7 } } });
    template.resourceCountIs('AWS::CloudWatch::Alarm', 0);
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 0);
    const groups = Object.values(template.findResources('AWS::Logs::LogGroup'));
    expect(groups.length).toBeGreaterThanOrEqual(7);
    for (const g of groups) expect(g.Properties.RetentionInDays).toBe(7);
  });

  it('keeps the alarms without the dashboard', () => {
    const template = synth({ observability: { monitoring: { dashboard: false } } });
    const alarms = Object.keys(template.findResources('AWS::CloudWatch::Alarm')).length;
    // Every alarm of the default stack is still there (failed, timed out, aborted, throttled executions, …).
    expect(alarms).toBeGreaterThanOrEqual(6);
    expect(alarms).toBe(Object.keys(synth({}).findResources('AWS::CloudWatch::Alarm')).length);
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 0);
  });

  it('refuses a retention CloudWatch Logs does not offer', () => {
    expect(() => parseConfig({ observability: { monitoring: { logRetentionDays: 10 } } })).toThrow(/logRetentionDays: must be one of 1, 3, 5/);
  });
});
