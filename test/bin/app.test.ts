import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

describe('npx cdk synth', () => {
  const out = mkdtempSync(join(tmpdir(), 'agent-cdk-out-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('synthesizes offline, bundling every handler with the local esbuild (no Docker)', () => {
    // The repo's config, with someone for the alarms to reach (without, synth fails: test/lib/nag/agent-readiness.test.ts).
    const repoConfig = JSON.parse(readFileSync(join(__dirname, '..', '..', 'agent.config.json'), 'utf8'));
    const config = join(out, 'agent.config.json');
    writeFileSync(config, JSON.stringify({ ...repoConfig, observability: { monitoring: { alarmEmail: 'oncall@example.com' } } }));
    execFileSync('npx', ['cdk', 'synth', '--quiet', '--output', out, '-c', `agentConfig=${config}`], {
      cwd: join(__dirname, '..', '..'),
      env: { ...process.env, CDK_DISABLE_CLI_TELEMETRY: 'true', CDK_DOCKER: 'false-docker-must-not-be-used' },
      stdio: 'pipe',
      timeout: 120_000,
    });
    const template = JSON.parse(readFileSync(join(out, 'AgentStack.template.json'), 'utf8'));
    const fns = Object.values(template.Resources as Record<string, { Type: string }>).filter((r) => r.Type === 'AWS::Lambda::Function');
    expect(fns.length).toBe(8);
    const assets = readdirSync(out).filter((d) => d.startsWith('asset.'));
    expect(assets.length).toBeGreaterThanOrEqual(5);
    for (const a of assets) expect(existsSync(join(out, a, 'index.js'))).toBe(true);
    // The tool handler ships the docs for the keyword search.
    expect(assets.some((a) => existsSync(join(out, a, 'docs', 'architecture.md')))).toBe(true);
  }, 180_000);

  it('refuses a config that cannot work in AWS before building anything, naming the fix (apiKeySecret)', () => {
    const config = join(out, 'env-only.json');
    writeFileSync(config, JSON.stringify({ models: { primary: { provider: 'openai', model: 'gpt-4o-mini', apiKeyEnv: 'OPENAI_API_KEY' } } }));
    let stderr = '';
    try {
      execFileSync(join(__dirname, '..', '..', 'node_modules', '.bin', 'tsx'), ['bin/app.ts'], {
        cwd: join(__dirname, '..', '..'),
        env: { ...process.env, AGENT_CONFIG: config, CDK_OUTDIR: join(out, 'refused') },
        stdio: 'pipe',
        timeout: 60_000,
      });
    } catch (err) {
      stderr = String((err as { stderr?: Buffer }).stderr);
    }
    expect(stderr).toContain('ConfigError: This config cannot work in AWS');
    expect(stderr).toContain('models.primary.apiKeySecret');
    // The message, not a stack trace or the source line that threw.
    expect(stderr).not.toMatch(/^\s+at /m);
    expect(stderr).not.toContain('throw new ConfigError');
    expect(existsSync(join(out, 'refused', 'AgentStack.template.json'))).toBe(false);
  }, 60_000);
});
