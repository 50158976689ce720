/**
 * The README's commands as a user types them, through the package's own entry points — `npx agent` (bin/agent.cjs),
 * `npm start`, `npm run smoke` — never the test bundles the other CLI tests run for speed (test/helpers/cli.ts). Each
 * process here starts on tsx, about a second of CPU: the file keeps to one of each.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');

interface Exit {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * A command line as typed in the project root: no AGENT_CONFIG of the developer's, and PORT where nothing listens
 * unless `env` says otherwise (so that no local server of the developer's is found).
 */
function typed(command: string, args: string[], env: Record<string, string> = {}): ChildProcess {
  // detached: the process group (npm → sh → tsx → node) is stopped as a whole.
  return spawn(command, args, { cwd: root, env: { ...process.env, AGENT_CONFIG: '', PORT: '9', ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
}

function exitOf(proc: ChildProcess, timeoutMs = 90_000): Promise<Exit> {
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    proc.stdout?.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    proc.stderr?.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const timer = setTimeout(() => process.kill(-(proc.pid as number), 'SIGKILL'), timeoutMs);
    proc.on('exit', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

describe('the README commands, as typed', () => {
  const dirs: string[] = [];
  const tempDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'agent-typed-'));
    dirs.push(dir);
    return dir;
  };
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('npx agent run answers 435, and npx agent trace of that run shows its calculator call with no server running', async () => {
    const data = tempDir();
    // `npx agent …` as the README has it; `--no` only forbids npx to fetch a registry package named "agent" should the
    // project's own bin ever not resolve (the test then fails instead of running someone else's code).
    const run = await exitOf(typed('npx', ['--no', 'agent', 'run', 'What is 12.5% of 3480?', '--data', data]));
    expect(run.stderr).not.toContain('ERR_MODULE_NOT_FOUND');
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('435');
    const runId = /run ([0-9a-f-]{36})/.exec(run.stderr)?.[1];
    expect(runId).toBeDefined();

    // No server answers on PORT: the trace is read from the data dir the run was kept in.
    const trace = await exitOf(typed('npx', ['--no', 'agent', 'trace', runId as string, '--data', data]));
    expect(trace.status).toBe(0);
    expect(trace.stdout).toContain('tool calculator → 435');
  }, 180_000);

  it('npm start serves the API, and npm run smoke against it passes with one run', async () => {
    const data = tempDir();
    const server = typed('npm', ['start', '--', '--data', data], { PORT: '0' });
    const stopped = exitOf(server);
    try {
      const banner = await new Promise<string>((resolve, reject) => {
        let out = '';
        const timer = setTimeout(() => reject(new Error(`npm start printed no banner within 90 s: ${out}`)), 90_000);
        server.stdout?.on('data', (c: Buffer) => {
          out += c.toString();
          if (out.includes('try: curl')) {
            clearTimeout(timer);
            resolve(out);
          }
        });
        server.once('exit', (code) => {
          clearTimeout(timer);
          reject(new Error(`npm start exited ${code}: ${out}`));
        });
      });
      const url = /listening on (http:\/\/localhost:\d+)/.exec(banner)?.[1] as string;
      const token = /Authorization: Bearer (\S+)/.exec(banner)?.[1] as string;
      expect(url).toBeDefined();
      expect(token).toMatch(/^dev-/);

      const smoke = await exitOf(typed('npm', ['run', 'smoke', '--', url, token]));
      expect(smoke.status).toBe(0);
      expect(JSON.parse(smoke.stdout.trim().split('\n').at(-1) as string)).toMatchObject({ status: 'SUCCEEDED', answer: expect.stringContaining('435') });
    } finally {
      process.kill(-(server.pid as number), 'SIGTERM');
      await stopped;
    }
  }, 180_000);
});
