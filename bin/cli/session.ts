import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { PoolSettings, refreshTokens, Tokens } from './cognito';
import { UsageError } from './common';

/**
 * The signed-in sessions of `agent login`, one per API URL, in the user's config dir
 * ($XDG_CONFIG_HOME/hardened-agent/credentials.json, else ~/.config/hardened-agent/), mode 0600. Tokens are read
 * from here and sent to the API; they are never printed.
 */
export interface StoredSession extends Tokens {
  pool: PoolSettings;
  username: string;
}

/** Refresh this long before the ID token expires. */
const EARLY_MS = 60_000;

export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'hardened-agent');
}
export const credentialsFile = (env: NodeJS.ProcessEnv = process.env) => join(configDir(env), 'credentials.json');

type Store = { sessions: Record<string, StoredSession> };

function read(env: NodeJS.ProcessEnv): Store {
  try {
    return JSON.parse(readFileSync(credentialsFile(env), 'utf8')) as Store;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { sessions: {} };
    throw new UsageError(`cannot read ${credentialsFile(env)} (${(err as Error).message}): delete it and sign in again with agent login`);
  }
}

/** The API's key in the store: its URL without a trailing slash. */
export const apiKey = (api: string) => api.replace(/\/+$/, '');

export function loadSession(api: string, env: NodeJS.ProcessEnv = process.env): StoredSession | undefined {
  return read(env).sessions[apiKey(api)];
}

/** Writes the store readable by the user only (the directory 0700, the file 0600, replaced atomically). */
export function saveSession(api: string, session: StoredSession, env: NodeJS.ProcessEnv = process.env): void {
  const dir = configDir(env);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const store = read(env);
  store.sessions[apiKey(api)] = session;
  const file = credentialsFile(env);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(store, null, 1), { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

/** The bearer token for an API: the stored ID token, refreshed (and stored again) when it is about to expire. */
export async function sessionToken(api: string, deps: { env?: NodeJS.ProcessEnv; now?: () => number; refresh?: typeof refreshTokens } = {}): Promise<string> {
  const env = deps.env ?? process.env;
  const session = loadSession(api, env);
  if (!session) throw new UsageError(`not signed in to ${apiKey(api)}: run agent login --api ${apiKey(api)} (or pass --token <jwt>)`);
  if (session.expiresAt - EARLY_MS > (deps.now ?? Date.now)()) return session.idToken;
  // The Cognito clients are loaded only when a token needs refreshing.
  const refresh = deps.refresh ?? (await import('./cognito')).refreshTokens;
  const fresh = await refresh(session.pool, session.refreshToken);
  saveSession(api, { ...session, ...fresh }, env);
  return fresh.idToken;
}
