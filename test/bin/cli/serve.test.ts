import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configHash, servedConfigFile } from '../../../bin/cli/serve';
import { parseConfig } from '../../../lib/config';
import { runEntry, spawnEntry } from '../../helpers/cli';

const root = join(__dirname, '..', '..', '..');

/** Starts `agent serve` on a free port and returns its banner (stdout up to the "try:" line); then stops it. */
async function banner(config: object, dataDir: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'serve-cfg-'));
  const file = join(dir, 'agent.config.json');
  writeFileSync(file, JSON.stringify(config));
  const proc: ChildProcess = spawnEntry('bin/agent.ts', ['serve', '--config', file, '--data', dataDir, '--port', '0'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, AGENT_CONFIG: '' },
  });
  try {
    return await new Promise<string>((resolve, reject) => {
      let out = '';
      let err = '';
      const timer = setTimeout(() => reject(new Error(`no banner within 90 s: ${out} ${err}`)), 90_000);
      proc.stderr?.on('data', (c: Buffer) => {
        err += c.toString();
      });
      proc.stdout?.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('try: curl')) {
          clearTimeout(timer);
          resolve(out);
        }
      });
      proc.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`serve exited ${code}: ${err}`));
      });
    });
  } finally {
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('agent serve (npm start) banner', () => {
  const model = { models: { primary: { provider: 'demo', model: 'default' } } };

  it('never prints a configured user’s token, and writes no development token when localTokens are set', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'serve-data-'));
    const secret = 'alice-secret-token-0123456789abcdef';
    try {
      const out = await banner({ ...model, localTokens: { [secret]: 'alice' } }, dataDir);
      expect(out).not.toContain(secret);
      expect(out).not.toContain(secret.slice(0, 12));
      expect(out).toContain('users: alice');
      expect(existsSync(join(dataDir, 'dev-token'))).toBe(false);
      // Nor is it synthesized into the handlers' environment (the template, cached on disk).
      const cache = join(tmpdir(), 'agent-template-cache');
      for (const f of readdirSync(cache)) expect({ f, leaked: readFileSync(join(cache, f), 'utf8').includes(secret) }).toEqual({ f, leaked: false });
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 120_000);

  it('prints the generated development token (the one kept in the data dir for the CLI) when none are configured', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'serve-data-'));
    try {
      const out = await banner(model, dataDir);
      const token = readFileSync(join(dataDir, 'dev-token'), 'utf8').trim();
      expect(token).toMatch(/^dev-[0-9a-f]{32}$/);
      expect(out).toContain(`Authorization: Bearer ${token}`);
      // Which config it serves, for `agent run` to refuse sending a run of another config there.
      expect(readFileSync(servedConfigFile(dataDir), 'utf8').trim()).toBe(configHash(parseConfig(model)));
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('agent serve (npm start) on a port that is taken', () => {
  it('says which port is in use and how to move (exit 2), not a listen stack trace', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as { port: number };
    const dir = mkdtempSync(join(tmpdir(), 'serve-busy-'));
    const config = join(dir, 'agent.config.json');
    writeFileSync(config, JSON.stringify({ models: { primary: { provider: 'demo', model: 'default' } } }));
    try {
      // The local AWS endpoints on free ports: only the API's port is the taken one.
      const free = { SFN_PORT: '0', DYNAMODB_PORT: '0', SECRETS_MANAGER_PORT: '0', LAMBDA_PORT: '0', BEDROCK_RUNTIME_PORT: '0', AGENT_CONFIG: '' };
      const out = await runEntry('bin/agent.ts', ['serve', '--config', config, '--data', join(dir, 'data'), '--port', String(port)], { env: free, timeoutMs: 90_000 });
      expect(out.stderr).toContain(`agent: port ${port} (127.0.0.1) is in use: another "npm start" (agent serve) may be running`);
      expect(out.stderr).toContain('on another PORT');
      expect(out.stderr).not.toMatch(/^\s+at /m);
      expect(out.status).toBe(2);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
