import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, parseConfig } from '../../lib/config';
import { breakerFor, dependenciesOf, renderDegradationDoc } from '../../lib/dependencies';

describe('dependencies and their degradation paths', () => {
  it('lists every model tier and every configured tool with a breaker and a fallback', () => {
    const config = parseConfig({
      models: { primary: { provider: 'openai', model: 'gpt-x', baseUrl: 'http://127.0.0.1:1/v1' }, fallback: { provider: 'demo', model: 'default' } },
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

  it('docs/degradation.md is current with agent.config.json (run npm run docs:degradation)', () => {
    const root = join(__dirname, '..', '..');
    const expected = renderDegradationDoc(loadConfig(join(root, 'agent.config.json')));
    expect(readFileSync(join(root, 'docs', 'degradation.md'), 'utf8')).toBe(expected);
  });
});
