import { existsSync, readFileSync } from 'node:fs';
import type { AgentConfig } from '../../lib/config';
import { type ApiTarget, apiTarget } from './client';
import { assertDataDirFree, type CliValues, localDataDir, localPort, UsageError } from './common';
import { configHash, devToken, localSecretsFile, servedConfigFile } from './serve';

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
 * Whether a command should go through the local server that answers on its port rather than open the data dir
 * itself: only when that data dir is held by another process (the server: `npm start` holds its data dir), or when
 * the caller gave the server's token (`--token`). A server started on another data dir (or a run with `--data` of
 * its own) must not receive this command's run.
 */
export async function useLocalServer(values: CliValues): Promise<boolean> {
  if (!(await localServerAnswers(values))) return false;
  if (typeof values.token === 'string') return true;
  const { dataDirHolder } = await import('../../local/data-dir-lock');
  return dataDirHolder(localDataDir(values)) !== undefined;
}

/**
 * Refuses to send a run to a local server that runs another config than this command loaded (`--config`,
 * AGENT_CONFIG, or agent.config.json changed since the server started): the run would silently use the server's.
 */
export function assertServerRunsConfig(values: CliValues, config: AgentConfig): void {
  const file = servedConfigFile(localDataDir(values));
  if (!existsSync(file)) return;
  if (readFileSync(file, 'utf8').trim() === configHash(config)) return;
  throw new UsageError(
    `the local server on port ${localPort(values)} (data in ${localDataDir(values)}) runs another config than this command loaded (--config, AGENT_CONFIG or agent.config.json, changed since it started?): restart it with this config, or run here on a data dir of its own with --data <another dir>`,
  );
}

/**
 * Runs `fn` against the HTTP API a read command talks to: the deployed stack (`--api`), else the local server when
 * one answers on its port and holds the data dir (see `useLocalServer`), else the local data dir itself (`--data`, default .agent-data) served for this command
 * only, on a free loopback port, by the same offline engine and API handler `npm start` runs.
 */
export async function withApi<T>(values: CliValues, config: AgentConfig, fn: (target: ApiTarget) => Promise<T>): Promise<T> {
  if (typeof values.api === 'string' || (await useLocalServer(values))) return fn(apiTarget(values));
  const dataDir = localDataDir(values);
  if (!existsSync(dataDir)) {
    // No local data here: the server that answers (on another data dir) is the only place to look.
    if (await localServerAnswers(values)) return fn(apiTarget(values));
    throw new UsageError(
      `no local server answers on port ${localPort(values)} and there is no local data in ${dataDir}: run something first (agent run "…", npm start), or pass --data <dir> or --api <url>`,
    );
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
