import type { LocalEngine } from '../../local/engine';
import { type LocalServer, startServer } from '../../local/server';
import { agent } from '../helpers/cli';
import { testEngine } from '../helpers/engine';

const TOKEN = 'token-cli-user-0123456789abcdef';

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

describe('agent approve|reject against an API', () => {
  let engine: LocalEngine;
  let server: LocalServer;
  beforeAll(async () => {
    engine = await testEngine({ localTokens: { [TOKEN]: 'cli-user' }, toolApprovals: { calculator: 'required' } });
    server = await startServer(engine, { port: 0 });
  }, 120_000);
  afterAll(async () => {
    await server.close();
    await engine.close();
  });
  const waiting = async (input: string) => {
    const res = await fetch(`${server.url}/runs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ input }),
    });
    const { runId } = (await res.json()) as { runId: string };
    for (let i = 0; i < 1200; i++) {
      const run = await engine.runtime.runs.getRun(runId);
      if (run?.status === 'AWAITING_APPROVAL') return runId;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`run ${runId} never waited for approval`);
  };

  it('approves the one waiting call, rejects with a reason, and refuses when nothing waits', async () => {
    const api = ['--api', server.url, '--token', TOKEN];
    const approved = await waiting('What is 6 * 7?');
    const show = await agent(['show', approved, '--json', ...api]);
    expect(JSON.parse(show.stdout).pendingApprovals).toEqual([expect.objectContaining({ name: 'calculator', arguments: { expression: '6 * 7' } })]);
    const approve = await agent(['approve', approved, ...api]);
    expect(approve.status).toBe(0);
    expect(approve.stdout).toMatch(/^approved: call_1_0 of run /);
    expect((await engine.execute(approved, 'cli-user')).run.answer).toContain('42');

    const rejected = await waiting('What is 7 * 7?');
    const reject = await agent(['reject', rejected, '--call', 'call_1_0', '--reason', 'not now', '--json', ...api]);
    expect(reject.status).toBe(0);
    expect(JSON.parse(reject.stdout)).toMatchObject({ runId: rejected, toolCallId: 'call_1_0', decision: 'reject', remaining: 0 });
    expect((await engine.execute(rejected, 'cli-user')).run.answer).toContain('not now');

    const none = await agent(['approve', rejected, ...api]);
    expect(none.status).toBe(2);
    expect(none.stderr).toContain('has no tool call waiting for approval');
  }, 180_000);
});
