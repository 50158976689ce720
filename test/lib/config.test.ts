import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, parseConfig } from '../../lib/config';

describe('config schema', () => {
  it('fills every default from an empty config', () => {
    const c = parseConfig({});
    expect(c.models.primary).toMatchObject({ provider: 'demo', model: 'default', timeoutMs: 20000 });
    expect(c.budgets).toMatchObject({ maxSteps: 20, maxTokens: 100000 });
    expect(c.retry).toEqual({ maxAttempts: 3, intervalSeconds: 1, backoffRate: 2, maxDelaySeconds: 20 });
    expect(c.breaker).toMatchObject({ failureThreshold: 5, windowSeconds: 60, minimumCalls: 5, cooldownSeconds: 30 });
    expect(c.tools).toEqual([]);
  });

  it('names the key and what is allowed for a bad value', () => {
    expect(() => parseConfig({ models: { primary: { provider: 'gpt', model: 'x' } } })).toThrow(ConfigError);
    expect(() => parseConfig({ models: { primary: { provider: 'gpt', model: 'x' } } })).toThrow(/models\.primary\.provider: .*"demo".*"openai".*"anthropic".*"bedrock"/);
    expect(() => parseConfig({ retry: { maxAttempts: 9 } })).toThrow(/retry\.maxAttempts: .*5/);
  });

  it('rejects unknown keys by name', () => {
    expect(() => parseConfig({ budgets: { maxStep: 3 } })).toThrow(/budgets: unknown key\(s\) "maxStep"/);
    // ...and refers to documents the repo has (README.md "Configuration", lib/config.ts), not a missing CONTRACT.md.
    const message = (() => {
      try {
        parseConfig({ nope: 1 });
      } catch (err) {
        return (err as Error).message;
      }
      return '';
    })();
    expect(message).not.toContain('CONTRACT.md');
    for (const file of message.match(/[\w./-]+\.(md|ts)\b/g) ?? []) expect({ file, exists: existsSync(join(__dirname, '..', '..', file)) }).toEqual({ file, exists: true });
  });

  it('caps the step budget at 50 unless explicitly raised', () => {
    expect(() => parseConfig({ budgets: { maxSteps: 80 } })).toThrow(/budgets\.maxSteps: must be at most 50 .*allowHighStepBudget/);
    expect(parseConfig({ budgets: { maxSteps: 80, allowHighStepBudget: true } }).budgets.maxSteps).toBe(80);
  });

  it('refuses a tool that takes a built-in name', () => {
    expect(() => parseConfig({ tools: [{ name: 'calculator', kind: 'http', url: 'http://127.0.0.1:1/x' }] })).toThrow(/tools\[0\]\.name: "calculator" is already taken/);
  });
});
