import type { LocalEngine } from '../../local/engine';
import { type LocalServer, startServer } from '../../local/server';
import { agent } from '../helpers/cli';
import { testEngine } from '../helpers/engine';

jest.setTimeout(240_000);

const USER = 'token-cli-user-0123456789abcdef';
const ADMIN = 'token-cli-admin-0123456789abcd';

describe('agent admin (against the local server)', () => {
  let engine: LocalEngine;
  let server: LocalServer;
  beforeAll(async () => {
    engine = await testEngine({ localTokens: { [USER]: 'cli-user' }, adminTokens: { [ADMIN]: 'cli-admin' } });
    server = await startServer(engine, { port: 0 });
  });
  afterAll(async () => {
    await server.close();
    await engine.close();
  });
  const as = (token: string, ...args: string[]) => agent(['admin', ...args, '--api', server.url, '--token', token]);

  it('disables and enables new runs, stops runs, shows spend; a user gets the 403', async () => {
    const disabled = await as(ADMIN, 'disable');
    expect(disabled).toMatchObject({ status: 0 });
    expect(disabled.stdout).toContain('disabled');
    expect(await engine.runtime.spend.isDisabled()).toBe(true);
    expect((await as(ADMIN, 'enable')).status).toBe(0);
    expect(await engine.runtime.spend.isDisabled()).toBe(false);

    const stop = await as(ADMIN, 'stop', '--user', 'nobody', '--json');
    expect(stop.status).toBe(0);
    expect(JSON.parse(stop.stdout)).toMatchObject({ stopped: 0, scope: 'nobody' });

    await engine.run({ input: 'What is 2 + 2?', userId: 'cli-user' });
    const runs = await as(ADMIN, 'runs', '--user', 'cli-user');
    expect(runs.status).toBe(0);
    expect(runs.stdout).toMatch(/cli-user\s+\S+\s+SUCCEEDED/);

    const spend = await as(ADMIN, 'spend');
    expect(spend.status).toBe(0);
    expect(spend.stdout).toMatch(/\(UTC\): \$0\.0000/);

    const refused = await as(USER, 'disable');
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/403 FORBIDDEN/);
  });
});
