import type { LocalEngine } from '../../../local/engine';
import { type LocalServer, startServer } from '../../../local/server';
import { agent } from '../../helpers/cli';
import { testEngine } from '../../helpers/engine';

const TOKEN = 'token-cli-user-0123456789abcdef';

describe('agent chat (piped input, against the local server)', () => {
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

  it('holds a conversation on a thread: progress from the event stream, answers, /cost, /trace, /new, /quit', async () => {
    const stdin = ['What is 12.5% of 3480?', 'Say that again?', '/cost', '/trace', '/bogus', '/new', '/quit', 'never asked'].join('\n');
    const out = await agent(['chat', '--api', server.url, '--token', TOKEN], { stdin });
    expect(out.status).toBe(0);
    const threads = [...out.stderr.matchAll(/^thread (\w+)/gm)].map((m) => m[1]);
    expect(threads).toHaveLength(2);
    // Progress lines came from the stream while the run went on.
    expect(out.stderr).toContain('tool calculator → 435');
    expect(out.stderr).toContain('unknown command /bogus');
    const lines = out.stdout.trim().split('\n');
    expect(lines[0]).toBe('12.5% of 3480 = 435.');
    // The second question is answered from the first run's words: the thread's history reached the model.
    expect(lines[1]).toContain('Earlier in this conversation you asked: "What is 12.5% of 3480?"');
    expect(out.stdout).toMatch(/thread \w+: 2 run\(s\) · tokens in \d+/);
    expect(out.stdout).toMatch(/\+ +0\.000s {2}run started/);
    expect(out.stdout).not.toContain('never asked');
    const first = (await (await fetch(`${server.url}/threads/${threads[0]}`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as { runs: unknown[] };
    expect(first.runs).toHaveLength(2);
  }, 60_000);

  it('refuses a thread that is not the caller’s before asking anything', async () => {
    const out = await agent(['chat', '--thread', 'nope', '--api', server.url, '--token', TOKEN], { stdin: 'hello there\n' });
    expect(out.status).toBe(2);
    expect(out.stderr).toContain('HTTP 404');
  }, 60_000);
});
