import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AgentConfigSchema } from '../../lambdas/core/config';
import { renderConfigDoc, undescribedKeys } from '../../lib/config-doc';

describe('the config reference (docs/config.md)', () => {
  const doc = renderConfigDoc();

  it('is current with the config schema (run npm run docs:config)', () => {
    expect(readFileSync(join(__dirname, '..', '..', 'docs', 'config.md'), 'utf8')).toBe(doc);
  });

  it('says what each key does: every key of the schema has a description (.describe() on the key in lambdas/core/config.ts)', () => {
    expect(undescribedKeys()).toEqual([]);
  });

  it('has a row for every top-level key, every tool kind, and the ranges and defaults of the schema', () => {
    for (const key of Object.keys(AgentConfigSchema.shape)) expect(doc).toContain(`| \`${key}`);
    for (const kind of ['http', 'retriever', 'mcp', 'lambda']) expect(doc).toContain(`### \`"kind": "${kind}"\``);
    expect(doc).toContain('| `models.primary.timeoutMs` | integer, ≥ 100, ≤ 840000 | `20000` |');
    expect(doc).toContain('| `budgets.maxSteps` | integer, ≥ 1, ≤ 10000 | `20` |');
  });
});
