import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { LocalEngine } from '../../local/engine';
import { type LocalServer, startServer } from '../../local/server';
import { testEngine } from '../helpers/engine';

const root = join(__dirname, '..', '..');
const TOKEN = 'token-cli-user-0123456789abcdef';

/** Runs the CLI against a server, asynchronously (the server lives in this process). */
function agent(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [join(root, 'bin', 'agent.cjs'), ...args], { cwd: root, env: { ...process.env, AGENT_CONFIG: '' } });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    proc.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const timer = setTimeout(() => proc.kill('SIGKILL'), 60_000);
    proc.on('exit', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

describe('the CLI against an API (--api --token)', () => {
  let engine: LocalEngine;
  let server: LocalServer;
  beforeAll(async () => {
    engine = await testEngine({ localTokens: { [TOKEN]: 'cli-user' } });
    server = await startServer(engine, { port: 0 });
  });
  afterAll(async () => {
    await server.close();
    await engine.close();
  });

  it('runs, lists, shows and traces a run; steering a finished run is refused with the API’s message', async () => {
    const api = ['--api', server.url, '--token', TOKEN];
    const run = await agent(['run', 'What is 12.5% of 3480?', '--json', ...api]);
    expect(run.status).toBe(0);
    const view = JSON.parse(run.stdout);
    expect(view).toMatchObject({ status: 'SUCCEEDED' });
    expect(view.answer).toContain('435');

    const runs = await agent(['runs', ...api]);
    expect(runs.stdout).toContain(view.runId);
    const show = await agent(['show', view.runId, ...api]);
    expect(show.stdout).toContain('435');
    const trace = await agent(['trace', view.runId, ...api]);
    expect(trace.stdout).toMatch(/\+ +0\.000s {2}run started/);
    expect(trace.stdout).toContain('tool calculator → 435');
    const json = await agent(['trace', view.runId, '--json', ...api]);
    expect(JSON.parse(json.stdout).events.length).toBeGreaterThan(3);

    const cancel = await agent(['cancel', view.runId, ...api]);
    expect(cancel.status).toBe(2);
    expect(cancel.stderr).toContain('HTTP 409 CONFLICT');
    const wrongUser = await agent(['show', view.runId, '--api', server.url, '--token', 'not-a-token-000000000000']);
    expect(wrongUser.status).toBe(2);
    expect(wrongUser.stderr).toContain('HTTP 401');
  }, 120_000);
});
