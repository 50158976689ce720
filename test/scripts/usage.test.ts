/**
 * `--help` of every npm script that takes arguments, as typed (`npm run <script> -- --help`): usage on stdout, exit 0,
 * nothing done. One process per script, each about half a second of CPU.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');

function npmRun(args: string[]): Promise<{ status: number | null; stdout: string }> {
  return new Promise((resolve) => {
    const proc = spawn('npm', ['run', '--silent', ...args], { cwd: root, env: { ...process.env, AGENT_CONFIG: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    proc.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    const timer = setTimeout(() => proc.kill('SIGKILL'), 60_000);
    proc.on('exit', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout });
    });
  });
}

describe('npm run <script> -- --help', () => {
  it.each([
    ['smoke', 'Usage: npm run smoke -- --stack <name>'],
    ['rollback', 'Usage: npm run rollback -- --alias <StateMachineAliasArn>'],
    ['bench', 'Usage: npm run bench'],
    ['docs:degradation', 'Usage: npm run docs:degradation'],
    ['cognito', 'Usage: npm run cognito'],
    ['deploy:localstack', 'Usage: npm run deploy:localstack'],
    ['start', 'Usage: agent <command>'],
    ['agent', 'Usage: agent <command>'],
  ])(
    '%s prints its usage and exits 0',
    async (script, usage) => {
      const out = await npmRun([script, '--', '--help']);
      expect(out.stdout).toContain(usage);
      expect(out.status).toBe(0);
    },
    60_000,
  );
});
