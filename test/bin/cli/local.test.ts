import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { recordServedConfig } from '../../../bin/cli/serve';
import { parseConfig } from '../../../lib/config';
import { LOCK_FILE } from '../../../local/data-dir-lock';
import type { LocalEngine } from '../../../local/engine';
import { type LocalServer, startServer } from '../../../local/server';
import { agent } from '../../helpers/cli';
import { testEngine } from '../../helpers/engine';

const PROMPT = 'What is 12.5% of 3480?';

describe('agent run and the read commands on the local data dir, no server running', () => {
  const data = mkdtempSync(join(tmpdir(), 'agent-local-'));
  let runId: string;

  it('agent run keeps its run in --data; runs, show and replay <id> find it there', async () => {
    const run = await agent(['run', PROMPT, '--json', '--data', data]);
    expect(run.status).toBe(0);
    runId = JSON.parse(run.stdout).runId;

    const runs = await agent(['runs', '--data', data]);
    expect(runs.status).toBe(0);
    expect(runs.stdout).toContain(runId);
    const show = await agent(['show', runId, '--data', data]);
    expect(show.status).toBe(0);
    expect(show.stdout).toContain('435');
    const replay = await agent(['replay', runId, '--data', data]);
    expect(replay.stdout).toContain('matched');
    expect(replay.status).toBe(0);
  }, 120_000);

  it('refuses a data dir another process holds, saying what to do instead (exit 2)', async () => {
    // The lock an engine on a data dir holds (local/data-dir-lock.ts), here of this live test process.
    const lock = join(data, LOCK_FILE);
    writeFileSync(lock, JSON.stringify({ pid: process.pid, since: new Date().toISOString() }));
    try {
      const out = await agent(['show', runId, '--data', data]);
      expect(out.status).toBe(2);
      expect(out.stderr).toContain(`${data} is in use by another agent process (pid ${process.pid})`);
      expect(out.stderr).toContain('--data <another dir>');
    } finally {
      rmSync(lock, { force: true });
    }
  }, 60_000);

  it('says where it looked when there is neither a server nor local data (exit 2)', async () => {
    const out = await agent(['runs', '--data', join(data, 'nothing-here')]);
    expect(out.status).toBe(2);
    expect(out.stderr).toContain('no local server answers on port 9 and there is no local data in');
  });
});

describe('agent run with a local server answering on its port', () => {
  const data = mkdtempSync(join(tmpdir(), 'agent-local-srv-'));
  const token = 'dev-0123456789abcdef0123456789abcdef';
  let engine: LocalEngine;
  let server: LocalServer;
  let port: string;
  const served = join(mkdtempSync(join(tmpdir(), 'agent-local-cfg-')), 'served.json');
  beforeAll(async () => {
    // As `npm start --config <file>` does: the server's engine holds its data dir, with the dev token and the config it runs there.
    writeFileSync(served, '{}');
    engine = await testEngine({}, { dataDir: data });
    server = await startServer(engine, { port: 0, devToken: token });
    port = new URL(server.url).port;
    writeFileSync(join(data, 'dev-token'), token);
    recordServedConfig(data, parseConfig({}));
  });
  afterAll(async () => {
    await server.close();
    await engine.close();
  });

  it('runs through that server (which holds the data dir), and runs lists it from there', async () => {
    const run = await agent(['run', PROMPT, '--json', '--data', data, '--config', served], { env: { PORT: port } });
    expect(run.status).toBe(0);
    const { runId } = JSON.parse(run.stdout);
    expect(await engine.runtime.runs.getRun(runId)).toMatchObject({ status: 'SUCCEEDED', userId: 'local-user' });
    const runs = await agent(['runs', '--data', data], { env: { PORT: port } });
    expect(runs.stdout).toContain(runId);
  }, 120_000);

  it('with --data of its own, runs here and keeps the run there, not in the server', async () => {
    const own = mkdtempSync(join(tmpdir(), 'agent-local-own-'));
    const run = await agent(['run', PROMPT, '--json', '--data', own], { env: { PORT: port } });
    expect(run.stderr).not.toContain('no local development token');
    expect(run.status).toBe(0);
    const { runId, status } = JSON.parse(run.stdout);
    expect(status).toBe('SUCCEEDED');
    expect(await engine.runtime.runs.getRun(runId)).toBeUndefined();
    const trace = await agent(['trace', runId, '--data', own], { env: { PORT: port } });
    expect(trace.status).toBe(0);
    expect(trace.stdout).toContain('calculator');
  }, 120_000);

  it('refuses to send a run of another config to that server, saying what to do (exit 2)', async () => {
    const config = join(mkdtempSync(join(tmpdir(), 'agent-local-cfg-')), 'wander.json');
    // examples/wander.json, as the README runs it, while the server runs another config.
    writeFileSync(config, JSON.stringify({ models: { primary: { provider: 'demo', model: 'wander' } }, budgets: { maxSteps: 3 } }));
    const run = await agent(['run', 'Explore', '--data', data, '--config', config], { env: { PORT: port } });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain(`the local server on port ${port} (data in ${data}) runs another config than this command loaded`);
    expect(run.stderr).toContain('--data <another dir>');
  }, 60_000);
});
