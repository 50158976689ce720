import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type CliValues, localDataDir, localPort, UsageError } from './common';
import { sessionToken } from './session';

/** The HTTP API a CLI command talks to: a deployed stack (--api, --token) or the local server (`npm start`). */
export interface ApiTarget {
  base: string;
  /** The bearer token, or how to get it (the `agent login` session, refreshed when it expires). */
  token: string | (() => Promise<string>);
}

export function apiTarget(values: CliValues): ApiTarget {
  if (typeof values.api === 'string') {
    const base = values.api.replace(/\/+$/, '');
    return { base, token: typeof values.token === 'string' ? values.token : () => sessionToken(base) };
  }
  const dataDir = localDataDir(values);
  const tokenFile = join(dataDir, 'dev-token');
  const token = typeof values.token === 'string' ? values.token : existsSync(tokenFile) ? readFileSync(tokenFile, 'utf8').trim() : '';
  if (!token) throw new UsageError(`no local development token in ${tokenFile}: start the local server with "npm start", or pass --api <url> --token <jwt>`);
  return { base: `http://localhost:${localPort(values)}`, token };
}

/** One API call; an API error becomes a UsageError (exit 2) carrying the API's message. */
export async function callApi<T>(target: ApiTarget, method: string, path: string, body?: unknown): Promise<T> {
  const token = typeof target.token === 'string' ? target.token : await target.token();
  let res: Response;
  try {
    res = await fetch(`${target.base}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (err) {
    throw new UsageError(`cannot reach ${target.base} (${(err as Error).message}): is the local server running ("npm start"), or is --api right?`);
  }
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? (JSON.parse(text) as unknown) : {};
  } catch {
    throw new UsageError(`${method} ${path}: ${target.base} answered HTTP ${res.status} with a body that is not JSON (${text.slice(0, 80)}…): is --api the stack's ApiUrl?`);
  }
  if (!res.ok) {
    const error = (json as { error?: { code?: string; message?: string } }).error;
    throw new UsageError(`${method} ${path}: HTTP ${res.status} ${error?.code ?? ''}: ${error?.message ?? text}`);
  }
  return json as T;
}
