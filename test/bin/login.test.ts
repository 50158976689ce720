import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListUsersInGroupCommand } from '@aws-sdk/client-cognito-identity-provider';
import type { LocalEngine } from '../../local/engine';
import { type LocalServer, startServer } from '../../local/server';
import { agent as runAgent } from '../helpers/cli';
import { EMULATOR_ENV, jwtEngine, startTestPool, type TestPool } from '../helpers/cognito';

/** Runs the CLI with stdin, in its own config dir. */
const agent = (args: string[], env: Record<string, string>, stdin = '') => runAgent(args, { env, stdin });

const claims = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1] as string, 'base64url').toString('utf8')) as Record<string, unknown>;

describe('agent login and agent users add, against Cognito on loopback (cognito-local + SRP)', () => {
  let pool: TestPool;
  let engine: LocalEngine;
  let server: LocalServer;
  let home: string;
  let env: Record<string, string>;
  const file = () => join(home, 'hardened-agent', 'credentials.json');
  // (cognito-local's AdminListGroupsForUser misses members added by email; ListUsersInGroup is right.)
  const admins = async () =>
    ((await pool.client.send(new ListUsersInGroupCommand({ UserPoolId: pool.userPoolId, GroupName: 'agent-admins' }))).Users ?? []).map(
      (u) => u.Attributes?.find((a) => a.Name === 'email')?.Value,
    );

  beforeAll(async () => {
    pool = await startTestPool();
    // The local API verifies the pool's ID tokens as API Gateway's Cognito authorizer would; static tokens stay.
    engine = await jwtEngine({ issuer: pool.issuer, clientId: pool.clientId }, { localTokens: { 'static-token-0123456789abcdef': 'static-user' } });
    server = await startServer(engine, { port: 0 });
    home = mkdtempSync(join(tmpdir(), 'agent-home-'));
    env = { ...EMULATOR_ENV, XDG_CONFIG_HOME: home, AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER: pool.cognito.endpoint };
  }, 60_000);
  afterAll(async () => {
    await server?.close();
    await engine?.close();
    await pool?.close();
    rmSync(home, { recursive: true, force: true });
  });

  it('adds an admin, who signs in with SRP (new password at first sign-in) and calls the API with the kept session', async () => {
    const add = await agent(['users', 'add', 'ada@example.com', '--admin', '--pool-id', pool.userPoolId, '--temporary-password', 'Temp-Passw0rd!'], env);
    expect(add.stderr).toBe('');
    expect(add.status).toBe(0);
    expect(add.stdout).toContain('added ada@example.com');
    expect(await admins()).toEqual(['ada@example.com']);

    const login = await agent(
      ['login', '--api', server.url, '--pool-id', pool.userPoolId, '--client-id', pool.clientId, '--username', 'ada@example.com'],
      env,
      'Temp-Passw0rd!\nNew-Passw0rd!42\n',
    );
    expect(login.stderr).toContain('First sign-in: choose a new password.');
    expect(login.stderr).toContain(`Signed in to ${server.url} as ada@example.com`);
    expect(login.status).toBe(0);

    // Kept for the user alone, with the refresh token; never printed.
    expect(statSync(file()).mode & 0o777).toBe(0o600);
    expect(statSync(join(home, 'hardened-agent')).mode & 0o777).toBe(0o700);
    const session = JSON.parse(readFileSync(file(), 'utf8')).sessions[server.url];
    expect(session).toMatchObject({ username: 'ada@example.com', pool: { userPoolId: pool.userPoolId, clientId: pool.clientId } });
    expect(session.refreshToken).toEqual(expect.any(String));
    for (const t of [session.idToken, session.accessToken, session.refreshToken]) expect(login.stdout + login.stderr).not.toContain(t);
    const id = claims(session.idToken);
    expect(id).toMatchObject({ token_use: 'id', aud: pool.clientId, iss: pool.issuer, 'cognito:groups': ['agent-admins'] });

    // Every --api command without --token uses the session; the API sees the token's sub.
    const run = await agent(['run', 'What is 12.5% of 3480?', '--json', '--api', server.url], env);
    expect(run.status).toBe(0);
    const view = JSON.parse(run.stdout);
    expect(view.answer).toContain('435');
    expect((await engine.runtime.runs.getRun(view.runId))?.userId).toBe(id.sub);
    const runs = await agent(['runs', '--api', server.url], env);
    expect(runs.stdout).toContain(view.runId);
    expect(runs.stdout + runs.stderr).not.toContain(session.idToken);

    // The new password is the one that works now.
    const again = await agent(['login', '--api', server.url, '--pool-id', pool.userPoolId, '--client-id', pool.clientId, '--username', 'ada@example.com'], env, 'Temp-Passw0rd!\n');
    expect(again.status).toBe(2);
    expect(again.stderr).toContain('sign-in failed');
  }, 120_000);

  it('refreshes an expired session with the refresh token, and stores the new one', async () => {
    // Sign in again with the new password (cognito-local does not keep the refresh token it issues on the
    // NEW_PASSWORD_REQUIRED answer; Cognito does).
    const login = await agent(
      ['login', '--api', server.url, '--pool-id', pool.userPoolId, '--client-id', pool.clientId, '--username', 'ada@example.com'],
      env,
      'New-Passw0rd!42\n',
    );
    expect(login.status).toBe(0);
    const store = JSON.parse(readFileSync(file(), 'utf8'));
    const before = store.sessions[server.url];
    store.sessions[server.url] = { ...before, idToken: 'expired.token.here', expiresAt: Date.now() - 1000 };
    writeFileSync(file(), JSON.stringify(store), { mode: 0o600 });
    const runs = await agent(['runs', '--api', server.url], env);
    expect(runs.stderr).toBe('');
    expect(runs.status).toBe(0);
    const after = JSON.parse(readFileSync(file(), 'utf8')).sessions[server.url];
    expect(after.idToken).not.toBe('expired.token.here');
    expect(claims(after.idToken).sub).toBe(claims(before.idToken).sub);
    expect(after.expiresAt).toBeGreaterThan(Date.now());
    expect(statSync(file()).mode & 0o777).toBe(0o600);
  }, 60_000);

  it('refuses a wrong password, an unknown user, and an --api command with no session', async () => {
    const args = ['login', '--api', server.url, '--pool-id', pool.userPoolId, '--client-id', pool.clientId];
    const wrong = await agent([...args, '--username', 'ada@example.com'], env, 'Not-The-Passw0rd!\n');
    expect(wrong.status).toBe(2);
    expect(wrong.stderr).toContain('Incorrect username or password');
    const unknown = await agent([...args, '--username', 'nobody@example.com'], env, 'Whatever-Passw0rd!\n');
    expect(unknown.status).toBe(2);
    const other = await agent(['runs', '--api', 'http://127.0.0.1:9/'], env);
    expect(other.status).toBe(2);
    expect(other.stderr).toContain('not signed in to http://127.0.0.1:9: run agent login --api http://127.0.0.1:9');
  }, 60_000);

  it('adds a user who is not an admin', async () => {
    const add = await agent(['users', 'add', 'bob@example.com', '--pool-id', pool.userPoolId, '--temporary-password', 'Temp-Passw0rd!', '--json'], env);
    expect(add.status).toBe(0);
    expect(JSON.parse(add.stdout)).toEqual({ username: 'bob@example.com', userPoolId: pool.userPoolId, admin: false });
    expect(await admins()).toEqual(['ada@example.com']);
  }, 60_000);
});
