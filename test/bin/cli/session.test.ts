import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configDir, credentialsFile, loadSession, type StoredSession, saveSession, sessionToken } from '../../../bin/cli/session';

const pool = { region: 'eu-west-1', userPoolId: 'eu-west-1_AbC123', clientId: 'client123' };
const session = (expiresAt: number): StoredSession => ({ pool, username: 'ada@example.com', idToken: 'id-1', accessToken: 'access-1', refreshToken: 'refresh-1', expiresAt });

describe('the agent login session store', () => {
  let home: string;
  let env: NodeJS.ProcessEnv;
  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), 'agent-session-'));
    env = { XDG_CONFIG_HOME: home };
  });
  afterEach(() => rmSync(home, { recursive: true, force: true }));

  it('lives in $XDG_CONFIG_HOME/hardened-agent, else ~/.config/hardened-agent', () => {
    expect(configDir(env)).toBe(join(home, 'hardened-agent'));
    expect(configDir({ HOME: '/home/ada' })).toMatch(/\.config\/hardened-agent$/);
  });

  it('keeps one session per API (trailing slash or not), readable by the user only', () => {
    saveSession('https://api.example.com/prod/', session(1), env);
    saveSession('https://other.example.com/prod', { ...session(2), username: 'bob@example.com' }, env);
    expect(loadSession('https://api.example.com/prod', env)?.username).toBe('ada@example.com');
    expect(loadSession('https://other.example.com/prod/', env)?.username).toBe('bob@example.com');
    expect(statSync(credentialsFile(env)).mode & 0o777).toBe(0o600);
  });

  it('returns the ID token while it is valid, and refreshes (and keeps) it a minute before it expires', async () => {
    const now = 1_000_000;
    const refresh = jest.fn(async () => ({ idToken: 'id-2', accessToken: 'access-2', refreshToken: 'refresh-1', expiresAt: now + 3_600_000 }));
    saveSession('https://api.example.com/prod', session(now + 61_000), env);
    expect(await sessionToken('https://api.example.com/prod', { env, now: () => now, refresh })).toBe('id-1');
    expect(refresh).not.toHaveBeenCalled();
    saveSession('https://api.example.com/prod', session(now + 59_000), env);
    expect(await sessionToken('https://api.example.com/prod', { env, now: () => now, refresh })).toBe('id-2');
    expect(refresh).toHaveBeenCalledWith(pool, 'refresh-1');
    expect(loadSession('https://api.example.com/prod', env)).toMatchObject({ idToken: 'id-2', accessToken: 'access-2', refreshToken: 'refresh-1', username: 'ada@example.com' });
    expect(statSync(credentialsFile(env)).mode & 0o777).toBe(0o600);
  });

  it('says how to sign in when there is no session', async () => {
    await expect(sessionToken('https://api.example.com/prod/', { env })).rejects.toThrow(
      'not signed in to https://api.example.com/prod: run agent login --api https://api.example.com/prod',
    );
  });
});
