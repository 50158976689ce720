import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { agentSync } from '../helpers/cli';

const root = join(__dirname, '..', '..');
const agent = (args: string[]) => agentSync(args);

describe('npx agent', () => {
  it('run --json answers 12.5% of 3480 through a calculator call', () => {
    const out = agent(['run', 'What is 12.5% of 3480?', '--json']);
    expect(out.status).toBe(0);
    const run = JSON.parse(out.stdout);
    expect(run).toMatchObject({ status: 'SUCCEEDED', stopReason: null, steps: 2, degraded: [] });
    expect(run.answer).toContain('435');
    expect(Object.keys(run).sort()).toEqual([
      'answer',
      'createdAt',
      'degraded',
      'output',
      'pendingApprovals',
      'runId',
      'status',
      'steps',
      'stopReason',
      'threadId',
      'updatedAt',
      'usage',
    ]);
    expect(out.stderr).toContain('tool calculator → 435');
  }, 90_000);

  it('stops the wander demo after exactly 3 steps, UNFINISHED', () => {
    const dir = mkdtempSync(join(tmpdir(), 'agent-cli-'));
    const config = join(dir, 'wander.json');
    writeFileSync(config, JSON.stringify({ models: { primary: { provider: 'demo', model: 'wander' } }, budgets: { maxSteps: 3 } }));
    const out = agent(['run', 'Explore', '--json', '--config', config]);
    expect(out.status).toBe(0);
    expect(JSON.parse(out.stdout)).toMatchObject({ status: 'UNFINISHED', stopReason: 'STEP_BUDGET', steps: 3 });
  }, 90_000);

  it('refuses a bad config with the key and what is allowed, exit 2', () => {
    const dir = mkdtempSync(join(tmpdir(), 'agent-cli-'));
    const config = join(dir, 'bad.json');
    writeFileSync(config, JSON.stringify({ models: { primary: { provider: 'gpt', model: 'x' } } }));
    const out = agent(['run', 'hi', '--config', config]);
    expect(out.status).toBe(2);
    expect(out.stderr).toMatch(/models\.primary\.provider: .*"demo"/);
    expect(out.stdout).toBe('');
  });

  it('refuses to raise the step budget from the command line, exit 2', () => {
    const out = agent(['run', 'hi', '--max-steps', '999']);
    expect(out.status).toBe(2);
    expect(out.stderr).toContain("budgets.maxSteps may only lower the deployment's budget: at most 20 (got 999)");
  });

  it('replay --file exits 0 on a matching path and 1 on a divergent one, saying where', () => {
    const fixture = join(root, 'test', 'fixtures', 'traces', 'calculator.json');
    const ok = agent(['replay', '--file', fixture]);
    expect(ok.stdout).toContain('matched');
    expect(ok.status).toBe(0);
    const recorded = JSON.parse(readFileSync(fixture, 'utf8'));
    recorded.run.status = 'UNFINISHED';
    const dir = mkdtempSync(join(tmpdir(), 'agent-cli-'));
    writeFileSync(join(dir, 'bad.json'), JSON.stringify(recorded));
    const bad = agent(['replay', '--file', join(dir, 'bad.json')]);
    expect(bad.status).toBe(1);
    expect(bad.stdout).toContain('diverged: recorded UNFINISHED/null, replayed SUCCEEDED/null');
  }, 90_000);
});
