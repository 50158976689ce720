import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, parseConfig } from '../../lib/config';
import { breakerFor, dependenciesOf, renderDegradationDoc } from '../../lib/dependencies';

describe('dependencies and their degradation paths', () => {
  it('lists every model tier and every configured tool with a breaker and a fallback', () => {
    const config = parseConfig({
      models: { primary: { provider: 'openai', model: 'gpt-x', contextWindowTokens: 128_000, baseUrl: 'http://127.0.0.1:1/v1' }, fallback: { provider: 'demo', model: 'default' } },
      tools: [
        { name: 'retrieve', kind: 'retriever', url: 'http://127.0.0.1:2/search' },
        { name: 'charge', kind: 'http', url: 'http://127.0.0.1:3/charge' },
      ],
      breakers: { 'tool:charge': { failureThreshold: 2 } },
    });
    const deps = dependenciesOf(config);
    expect(deps.map((d) => d.name)).toEqual(['model:primary', 'model:fallback', 'tool:retrieve', 'tool:charge']);
    for (const d of deps) expect(d.fallback.length).toBeGreaterThan(10);
    expect(deps.find((d) => d.name === 'tool:retrieve')?.fallback).toContain('keyword search');
    expect(breakerFor(config, 'tool:charge')).toMatchObject({ failureThreshold: 2, cooldownSeconds: 30 });
  });

  it('lists mcp servers and lambda functions with their breaker, timeout and way out', () => {
    const config = parseConfig({
      tools: [
        { name: 'billing', kind: 'mcp', url: 'https://billing.example.com/mcp', allow: ['lookup_invoice'], timeoutMs: 4000 },
        { name: 'orders', kind: 'lambda', functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:orders:live', localHandler: 'tools/orders.ts#handler' },
      ],
    });
    const deps = dependenciesOf(config);
    expect(deps.slice(1)).toEqual([
      expect.objectContaining({
        name: 'tool:billing',
        what: 'MCP server at billing.example.com (tools: lookup_invoice)',
        timeoutMs: 4000,
        fallback: expect.stringContaining('goes on without them'),
      }),
      expect.objectContaining({
        name: 'tool:orders',
        what: 'Lambda function orders:live (offline: tools/orders.ts#handler)',
        timeoutMs: 10000,
        fallback: expect.stringContaining('function errors too'),
      }),
    ]);
    const doc = renderDegradationDoc(config);
    expect(doc).toContain('| `tool:billing` | MCP server at billing.example.com');
    // The tool kinds table is there whatever the config holds.
    for (const kind of ['http', 'retriever', 'mcp', 'lambda']) expect(renderDegradationDoc(parseConfig({}))).toContain(`| \`${kind}\` |`);
  });

  it('docs/degradation.md is current with agent.config.json (run npm run docs:degradation)', () => {
    const root = join(__dirname, '..', '..');
    const expected = renderDegradationDoc(loadConfig(join(root, 'agent.config.json')));
    expect(readFileSync(join(root, 'docs', 'degradation.md'), 'utf8')).toBe(expected);
  });
});
