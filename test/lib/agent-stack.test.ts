import { randomBytes } from 'node:crypto';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AgentStack } from '../../lib/agent-stack';
import { ConfigError, parseConfig } from '../../lib/config';
import { templateFor } from '../helpers/engine';

jest.setTimeout(240_000);

describe('the stack with lambda and mcp tools', () => {
  const config = parseConfig({
    models: { primary: { provider: 'demo', model: 'default', timeoutMs: 20_000 } },
    tools: [
      { name: 'orders', kind: 'lambda', functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:orders' },
      { name: 'refunds', kind: 'lambda', functionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:refunds:live' },
      { name: 'billing', kind: 'mcp', url: 'https://billing.example.com/mcp', timeoutMs: 8000 },
    ],
  });
  const cfn = templateFor(config);
  const template = Template.fromJSON(cfn);
  const functionOf = (handler: string) =>
    Object.entries(cfn.Resources).find(
      ([, r]) => r.Type === 'AWS::Lambda::Function' && (r.Properties as { Environment?: { Variables?: Record<string, unknown> } }).Environment?.Variables?.HANDLER_NAME === handler,
    );

  it('grants lambda:InvokeFunction on exactly the configured function ARNs, to the tool handler only', () => {
    const statements = Object.values(cfn.Resources)
      .filter((r) => r.Type === 'AWS::IAM::Policy')
      .flatMap((r) =>
        ((r.Properties as { PolicyDocument: { Statement: Record<string, unknown>[] } }).PolicyDocument.Statement ?? []).map((s) => ({
          s,
          roles: (r.Properties as { Roles: unknown[] }).Roles,
        })),
      );
    const functionRoles = new Set(
      Object.values(cfn.Resources)
        .filter((r) => r.Type === 'AWS::Lambda::Function')
        .map((r) => (r.Properties as { Role: { 'Fn::GetAtt': string[] } }).Role['Fn::GetAtt'][0]),
    );
    // The state machine invokes its own handlers; among the handlers, only the tool handler may invoke functions.
    const invokes = statements.filter(({ s, roles }) => [s.Action].flat().includes('lambda:InvokeFunction') && roles.some((r) => functionRoles.has((r as { Ref: string }).Ref)));
    expect(invokes).toHaveLength(1);
    expect(invokes[0]?.s.Resource).toEqual(['arn:aws:lambda:us-east-1:123456789012:function:orders', 'arn:aws:lambda:eu-west-1:123456789012:function:refunds:live']);
    const [toolId, toolFn] = functionOf('call-tool') ?? [];
    expect(toolId).toBeDefined();
    const role = (toolFn?.Properties as { Role: { 'Fn::GetAtt': string[] } } | undefined)?.Role['Fn::GetAtt'][0];
    expect(invokes[0]?.roles).toEqual([{ Ref: role }]);
    template.hasResourceProperties('AWS::IAM::Policy', { PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: 'lambda:InvokeFunction' })]) } });
  });

  it('lets the tool handler outlive an MCP listing plus the call', () => {
    const config = parseConfig({ tools: [{ name: 'slow', kind: 'mcp', url: 'https://slow.example.com/mcp', timeoutMs: 30_000 }] });
    const cfn = templateFor(config);
    const tool = Object.values(cfn.Resources).find(
      (r) => r.Type === 'AWS::Lambda::Function' && (r.Properties as { Environment?: { Variables?: Record<string, unknown> } }).Environment?.Variables?.HANDLER_NAME === 'call-tool',
    );
    expect((tool?.Properties as { Timeout: number } | undefined)?.Timeout).toBeGreaterThanOrEqual(60 + 10);
  });

  it('lets the model handler outlive an MCP listing plus the model call', () => {
    const [, modelFn] = functionOf('call-model') ?? [];
    // 20 s model + 8 s listing + the handler margin.
    expect((modelFn?.Properties as { Timeout: number } | undefined)?.Timeout).toBeGreaterThanOrEqual(28 + 10);
  });
});

describe("a config too large for the handlers' environment", () => {
  it('is a config error (no stack trace from the CLI) saying what takes the room, what fits and what to shorten', () => {
    // Text that does not compress: 20 KB of hex.
    const config = parseConfig({ instructions: randomBytes(10_000).toString('hex') });
    const make = () => new AgentStack(new App(), 'TooLarge', { config });
    expect(make).toThrow(ConfigError);
    expect(make).toThrow(
      /does not fit the handlers' environment: \d+ bytes serialized \(instructions 20002, output schema 2\), about \d+ compressed, where 3000 bytes are available .*shorten the instructions or the output schema/,
    );
  });
});
