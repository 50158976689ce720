import { ConfigError, parseConfig } from '../../lib/config';
import { assertDeployable, deployProblems } from '../../lib/deployable';
import { accessKeyIdOf, iamModelOf } from '../../local/iam/roles';
import { localSecretArn } from '../../local/secrets-manager';
import { functionsOf } from '../../local/template';
import { templateFor } from '../helpers/engine';

const problems = (input: Parameters<typeof parseConfig>[0]) => deployProblems(parseConfig(input));
const MCP = { name: 'billing', kind: 'mcp' as const, url: 'https://billing.example.com/mcp' };

describe('synth refuses what works offline but cannot work in AWS, naming the fix', () => {
  it('a non-demo model whose key is only in apiKeyEnv: names apiKeySecret', () => {
    const envOnly = { models: { primary: { provider: 'openai' as const, model: 'gpt-4o-mini', apiKeyEnv: 'OPENAI_API_KEY' } } };
    expect(problems(envOnly)).toEqual([
      expect.stringMatching(/^models\.primary: the API key is only in the environment variable OPENAI_API_KEY \(apiKeyEnv\).*name the secret in models\.primary\.apiKeySecret/),
    ]);
    expect(
      problems({ models: { primary: { provider: 'demo', model: 'default' }, fallback: { provider: 'anthropic', model: 'claude', contextWindowTokens: 128_000, apiKeyEnv: 'K' } } }),
    ).toEqual([expect.stringContaining('models.fallback.apiKeySecret')]);
    // With the secret (apiKeyEnv then serves offline only), with no key at all (a keyless server), the demo, Bedrock (IAM): fine.
    expect(problems({ models: { primary: { ...envOnly.models.primary, apiKeySecret: 'agent/openai-key' } } })).toEqual([]);
    expect(problems({ models: { primary: { provider: 'openai', model: 'llama3', contextWindowTokens: 128_000, baseUrl: 'http://10.0.0.5:11434/v1' } } })).toEqual([]);
    expect(problems({ models: { primary: { provider: 'bedrock', model: 'amazon.nova-lite-v1:0', apiKeyEnv: 'UNUSED' } } })).toEqual([]);
    expect(problems({})).toEqual([]);
  });

  it('Langfuse keys only in the environment: names observability.langfuse.secret', () => {
    expect(problems({ observability: { langfuse: { baseUrl: 'https://cloud.langfuse.com' } } })).toEqual([
      expect.stringMatching(
        /^observability\.langfuse: the keys are only in the environment variables LANGFUSE_PUBLIC_KEY and LANGFUSE_SECRET_KEY.*observability\.langfuse\.secret/,
      ),
    ]);
    expect(problems({ observability: { langfuse: { baseUrl: 'https://cloud.langfuse.com', secret: 'agent/langfuse' } } })).toEqual([]);
  });

  it('a credential written as an MCP server header: names headersSecret; other headers are fine', () => {
    expect(problems({ tools: [{ ...MCP, headers: { Authorization: 'Bearer x', 'X-Api-Key': 'k', 'X-Team': 'billing' } }] })).toEqual([
      expect.stringMatching(/^tools\[0\]\.headers\.Authorization \(MCP server "billing"\).*tools\[0\]\.headersSecret/),
      expect.stringMatching(/^tools\[0\]\.headers\.X-Api-Key /),
    ]);
    expect(problems({ tools: [{ ...MCP, headers: { 'X-Team': 'billing' }, headersSecret: 'agent/billing-headers' }] })).toEqual([]);
  });

  // One template for the two tests below: what synth refuses, and the headersSecret fix (its grant).
  const refused = parseConfig({
    models: { primary: { provider: 'openai', model: 'gpt-4o-mini', apiKeyEnv: 'OPENAI_API_KEY' } },
    observability: { langfuse: { baseUrl: 'https://cloud.langfuse.com' } },
    tools: [{ ...MCP, headers: { Authorization: 'Bearer literal' }, headersSecret: 'agent/billing-headers' }],
  });

  it('assertDeployable throws one ConfigError listing every problem; the local engine still synthesizes the same config', () => {
    expect(() => assertDeployable(refused)).toThrow(ConfigError);
    expect(() => assertDeployable(refused)).toThrow(/cannot work in AWS[\s\S]*apiKeySecret[\s\S]*observability\.langfuse\.secret[\s\S]*tools\[0\]\.headersSecret/);
    expect(templateFor(refused).Resources).toBeDefined();
  });

  it('the fix it names is granted: a headersSecret may be read by the functions that call the server (call-model, call-tool) only', () => {
    const template = templateFor(refused);
    const model = iamModelOf(template);
    const mayRead = functionsOf(template)
      .filter((f) => model.principalOf(accessKeyIdOf(f.logicalId))?.policy?.evaluate('secretsmanager:GetSecretValue', localSecretArn('agent/billing-headers')).allowed)
      .map((f) => f.handler);
    expect(mayRead.sort()).toEqual(['call-model', 'call-tool']);
  });
});
