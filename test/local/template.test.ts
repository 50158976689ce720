import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { App } from 'aws-cdk-lib';
import { AgentStack } from '../../lib/agent-stack';
import { parseConfig } from '../../lib/config';
import { cachedTemplate, maskLoopbackPorts, STACK_NAME, sourceFingerprint, synthSources, synthTemplate, validateDefinitionOnce } from '../../local/template';

const withPorts = (model: number, tool: number) =>
  parseConfig({
    models: { primary: { provider: 'openai', model: 'm', contextWindowTokens: 128_000, baseUrl: `http://127.0.0.1:${model}/v1` } },
    tools: [{ name: 'charge', kind: 'http', url: `http://localhost:${tool}/charge` }],
  });

describe('the template cache', () => {
  const dir = mkdtempSync(join(tmpdir(), 'agent-template-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('masks loopback ports by rank and puts them back exactly', () => {
    const config = withPorts(40123, 5);
    const { masked, unmask } = maskLoopbackPorts(config);
    expect(JSON.stringify(masked)).toContain('"http://127.0.0.1:1/v1"');
    expect(JSON.stringify(masked)).toContain('"http://localhost:2/charge"');
    expect(JSON.parse(unmask(JSON.stringify(masked)))).toEqual(config);
    // A config without loopback addresses is its own key.
    const plain = parseConfig({});
    expect(maskLoopbackPorts(plain).masked).toBe(plain);
  });

  it('synthesizes a config once whatever its test servers ports, and gives each run the template of its own ports', () => {
    cachedTemplate(withPorts(40001, 40002), dir);
    const files = readdirSync(dir);
    expect(files).toHaveLength(1);
    const again = cachedTemplate(withPorts(51234, 61234), dir);
    expect(readdirSync(dir)).toEqual(files);
    // The same template but for the hashes of what was synthesized (the Lambda versions' logical ids hash each
    // function's configuration, the state machine version's description its definition; the masked ports included):
    // names and labels only, the engine never reads a meaning into them.
    const versionIds = (t: unknown) =>
      JSON.parse(
        JSON.stringify(t)
          .replace(/CurrentVersion[0-9A-F]{8}[0-9a-f]{32}/g, 'CurrentVersion<hash>')
          .replace(/definition sha256:[0-9a-f]{16}/g, 'definition sha256:<hash>'),
      );
    expect(versionIds(again)).toEqual(versionIds(synthTemplate(withPorts(51234, 61234))));
  }, 120_000);

  it('validates a definition once: a valid one leaves a marker and is not modified; an invalid one throws, every time', () => {
    const vdir = mkdtempSync(join(tmpdir(), 'agent-asl-test-'));
    try {
      const valid = { StartAt: 'Done', States: { Done: { Type: 'Succeed' } } };
      validateDefinitionOnce(valid, vdir);
      expect(valid).toEqual({ StartAt: 'Done', States: { Done: { Type: 'Succeed' } } });
      expect(readdirSync(vdir)).toHaveLength(1);
      validateDefinitionOnce(valid, vdir);
      expect(readdirSync(vdir)).toHaveLength(1);
      const invalid = { StartAt: 'Nowhere', States: { Done: { Type: 'Succeed' } } };
      expect(() => validateDefinitionOnce(invalid, vdir)).toThrow(/invalid/);
      expect(() => validateDefinitionOnce(invalid, vdir)).toThrow(/invalid/);
      expect(readdirSync(vdir)).toHaveLength(1);
    } finally {
      rmSync(vdir, { recursive: true, force: true });
    }
  });
});

describe('the template cache key', () => {
  it('covers every lambdas/ module the stack imports, transitively', () => {
    const root = join(__dirname, '..', '..');
    const sources = synthSources(root).map((f) => relative(root, f));
    expect(sources).toEqual(
      expect.arrayContaining([
        'lib/agent-stack.ts',
        'local/template.ts',
        'lambdas/core/errors.ts',
        'lambdas/core/breaker.ts',
        'lambdas/core/execution-status.ts',
        'lambdas/api/public-config.ts',
      ]),
    );
    // Not what the stack never loads (the handlers are bundled from their entry files, not imported).
    expect(sources).not.toContain('lambdas/handlers/call-model.ts');
  });

  it('changes when a module lib/ imports changes, directly or through another, and not for another file', () => {
    const root = mkdtempSync(join(tmpdir(), 'agent-fingerprint-'));
    const write = (path: string, text: string) => {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), text);
    };
    try {
      write('lib/stack.ts', "import { retried } from '../lambdas/core/errors';\nexport const s = retried;\n");
      write('lambdas/core/errors.ts', "export { retried } from './names';\n");
      write('lambdas/core/names.ts', "export const retried = ['Throttled'];\n");
      write('lambdas/handlers/unrelated.ts', 'export const x = 1;\n');
      write('local/template.ts', 'export const props = {};\n');
      const before = sourceFingerprint(root);
      write('lambdas/handlers/unrelated.ts', 'export const x = 2;\n');
      expect(sourceFingerprint(root)).toBe(before);
      write('lambdas/core/names.ts', "export const retried = ['Throttled', 'Busy'];\n");
      const after = sourceFingerprint(root);
      expect(after).not.toBe(before);
      write('local/template.ts', 'export const props = { treeMetadata: false };\n');
      expect(sourceFingerprint(root)).not.toBe(after);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('the template-only synth (TEMPLATE_ONLY_APP_PROPS)', () => {
  // The CloudFormation lint is a validation plugin: it reads the written template and reports, it cannot change it
  // (and its WebAssembly engine costs seconds here); test/bin/app.test.ts runs it in the real `cdk synth`.
  it('gives the template an App with construct stack traces and tree metadata gives', () => {
    const config = parseConfig({ toolApprovals: { calculator: 'required' } });
    const app = new App({ stackTraces: true, treeMetadata: true, builtinCloudFormationValidation: false, context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new AgentStack(app, STACK_NAME, { config });
    const full = app.synth().getStackByName(stack.stackName).template;
    expect(synthTemplate(config)).toEqual(full);
  }, 60_000);
});
