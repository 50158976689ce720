import { existsSync } from 'node:fs';
import type { AgentConfig } from '../../lib/config';
import { type ApiTarget, apiTarget } from './client';
import { assertDataDirFree, type CliValues, localDataDir, localPort, UsageError } from './common';
import { devToken, localSecretsFile } from './serve';

/** Whether something answers HTTP on the local server's port (`npm start`): a refused connection is "no". */
export async function localServerAnswers(values: CliValues): Promise<boolean> {
  try {
    await fetch(`http://localhost:${localPort(values)}/`, { method: 'HEAD', signal: AbortSignal.timeout(3000) });
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs `fn` against the HTTP API a read command talks to: the deployed stack (`--api`), else the local server when
 * one answers on its port, else the local data dir itself (`--data`, default .agent-data) served for this command
 * only, on a free loopback port, by the same offline engine and API handler `npm start` runs.
 */
export async function withApi<T>(values: CliValues, config: AgentConfig, fn: (target: ApiTarget) => Promise<T>): Promise<T> {
  if (typeof values.api === 'string' || (await localServerAnswers(values))) return fn(apiTarget(values));
  const dataDir = localDataDir(values);
  if (!existsSync(dataDir)) {
    throw new UsageError(`no local server answers on port ${localPort(values)} and there is no local data in ${dataDir}: run something first (agent run "…", npm start), or pass --data <dir> or --api <url>`);
  }
  await assertDataDirFree(dataDir);
  const [{ LocalEngine }, { startServer }] = await Promise.all([import('../../local/engine'), import('../../local/server')]);
  const engine = await LocalEngine.start({ config, dataDir, secretsFile: localSecretsFile(dataDir) });
  try {
    const server = await startServer(engine, { port: 0, devToken: config.localTokens ? undefined : devToken(dataDir) });
    try {
      const token = typeof values.token === 'string' ? values.token : server.devToken;
      if (!token) throw new UsageError('the config names localTokens: pass --token <one of them>');
      return await fn({ base: server.url, token });
    } finally {
      await server.close();
    }
  } finally {
    await engine.close();
  }
}
