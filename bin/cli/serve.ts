import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { AgentConfig } from '../../lib/config';
import { assertDataDirFree, type CliCommand, localDataDir, localPort, UsageError } from './common';

/** `agent serve` (`npm start`): the HTTP API on localhost, on the on-disk offline engine. */
export const serveCommand: CliCommand = {
  usage: 'serve                  serve the HTTP API on http://localhost:3000 (PORT to change), data kept in .agent-data/',
  async run({ config, values }) {
    const port = localPort(values);
    const dataDir = localDataDir(values);
    // Another server, or an `agent run`, on the same data dir: said plainly, before its database refuses every request.
    await assertDataDirFree(dataDir);
    // The local AWS endpoints next to the API: PORT+1 Step Functions, PORT+2 DynamoDB (SFN_PORT / DYNAMODB_PORT).
    const near = (offset: number, env: string | undefined) => Number(env ?? (port === 0 ? 0 : port + offset));
    // PORT+3 Secrets Manager, PORT+4 Lambda, PORT+5 Bedrock Runtime (SECRETS_MANAGER_PORT / LAMBDA_PORT / BEDROCK_RUNTIME_PORT); secrets from AGENT_SECRETS_FILE or the data dir.
    // Loaded here: the other commands (remote ones, login, --help) never load the engine.
    const [{ LocalEngine }, { startServer }, { LOCAL_REGION }] = await Promise.all([import('../../local/engine'), import('../../local/server'), import('../../local/template')]);
    const engine = await LocalEngine.start({
      config,
      dataDir,
      sfnPort: near(1, process.env.SFN_PORT),
      dynamoPort: near(2, process.env.DYNAMODB_PORT),
      secretsPort: near(3, process.env.SECRETS_MANAGER_PORT),
      lambdaPort: near(4, process.env.LAMBDA_PORT),
      bedrockPort: near(5, process.env.BEDROCK_RUNTIME_PORT),
      secretsFile: localSecretsFile(dataDir),
    }).catch(portInUse);
    // Interrupted runs get their executions back before any request is served (a cancel then finds them).
    const resumed = await engine.resumeInterrupted();
    // A development token (kept in the data dir for the CLI) only when the config names no users of its own.
    const server = await startServer(engine, { port, devToken: config.localTokens ? undefined : devToken(dataDir) }).catch(async (err: unknown) => {
      await engine.close();
      return portInUse(err);
    });
    // Which config it runs, for `agent run` to refuse sending a run of another config here.
    recordServedConfig(dataDir, config);
    const users = Object.values(config.localTokens ?? {});
    // The generated development token is printed so it can be used; a configured user's token never is.
    const token = server.devToken ?? '<your token from localTokens>';
    const { primary, fallback } = config.models;
    process.stdout.write(
      [
        `Agent API listening on ${server.url} (offline engine, data in ${dataDir})`,
        `  model: ${primary.provider}/${primary.model}${fallback ? `, fallback ${fallback.provider}/${fallback.model}` : ''}`,
        server.devToken ? `  Authorization: Bearer ${token}` : `  Authorization: Bearer <token>, a token of localTokens in the config (users: ${[...new Set(users)].join(', ')})`,
        `AWS_ENDPOINT_URL_SFN=${engine.sfnApi.url}`,
        `AWS_ENDPOINT_URL_DYNAMODB=${engine.dynamoFront.url}`,
        `AWS_ENDPOINT_URL_SECRETS_MANAGER=${engine.secretsManager.url}`,
        `AWS_ENDPOINT_URL_LAMBDA=${engine.lambdaApi.url}`,
        `AWS_ENDPOINT_URL_BEDROCK_RUNTIME=${engine.bedrock.url}`,
        `  (AWS SDK / CLI against them: AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=${LOCAL_REGION}; state machine ${engine.stateMachineArn})`,
        ...(resumed.length ? [`  resumed ${resumed.length} run(s) interrupted by the last shutdown: ${resumed.join(', ')}`] : []),
        `  try: curl -s -X POST ${server.url}/runs -H 'Authorization: Bearer ${token}' -H 'Content-Type: application/json' -d '{"input":"What is 12.5% of 3480?"}'`,
        '',
      ].join('\n'),
    );
    await new Promise<void>((stop) => {
      process.once('SIGINT', () => stop());
      process.once('SIGTERM', () => stop());
    });
    await server.close();
    await engine.close();
    return 0;
  },
};

/** A port already taken (another `npm start`, or anything else on it): said plainly, with how to move, instead of a stack trace. */
function portInUse(err: unknown): never {
  const e = err as NodeJS.ErrnoException & { port?: number; address?: string };
  if (e.code !== 'EADDRINUSE') throw err;
  throw new UsageError(
    `port ${e.port} (${e.address}) is in use: another "npm start" (agent serve) may be running — stop it, or start this one on another PORT; the local AWS endpoints take PORT+1 to PORT+5 (SFN_PORT, DYNAMODB_PORT, SECRETS_MANAGER_PORT, LAMBDA_PORT, BEDROCK_RUNTIME_PORT to place them elsewhere)`,
  );
}

/** The development token of a data dir: made once, kept in the (git-ignored) data dir, so CLI calls can reuse it. */
/** The local Secrets Manager's file of secrets (local/secrets-manager.ts): AGENT_SECRETS_FILE, else in the data dir. */
export function localSecretsFile(dataDir: string, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.AGENT_SECRETS_FILE ?? join(dataDir, 'secrets.json'));
}

export function devToken(dataDir: string): string {
  const file = join(dataDir, 'dev-token');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dataDir, { recursive: true });
  const token = `dev-${randomBytes(16).toString('hex')}`;
  writeFileSync(file, token, { mode: 0o600 });
  return token;
}

/** The file in a data dir where `agent serve` records which config it runs (a hash), for `agent run` to compare. */
export function servedConfigFile(dataDir: string): string {
  return join(dataDir, 'served-config');
}

/** The hash that identifies a loaded config (instructions read from their file included). */
export function configHash(config: AgentConfig): string {
  return createHash('sha256').update(JSON.stringify(config)).digest('hex');
}

/** `agent serve`: records the config it runs in its data dir. */
export function recordServedConfig(dataDir: string, config: AgentConfig): void {
  writeFileSync(servedConfigFile(dataDir), `${configHash(config)}\n`);
}
