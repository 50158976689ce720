import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CognitoIdentityProviderClient, CreateGroupCommand, CreateUserPoolClientCommand, CreateUserPoolCommand } from '@aws-sdk/client-cognito-identity-provider';
import { type AgentConfigInput, parseConfig } from '../../lib/config';
import { LocalEngine } from '../../local/engine';
import { type LocalCognito, startLocalCognito } from '../../testing/cognito';
import { templateFor } from './engine';

/** Credentials the emulator accepts (it checks none); region "local" as cognito-local's pool ids say. */
export const EMULATOR_ENV = { AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_REGION: 'local' };

export interface TestPool {
  cognito: LocalCognito;
  client: CognitoIdentityProviderClient;
  userPoolId: string;
  clientId: string;
  issuer: string;
  close(): Promise<void>;
}

/** cognito-local on loopback with a pool, a public client and the agent-admins group, as the stack makes them. */
export async function startTestPool(): Promise<TestPool> {
  const dir = mkdtempSync(join(tmpdir(), 'agent-cognito-'));
  const cognito = await startLocalCognito({ dir });
  const client = new CognitoIdentityProviderClient({ region: 'local', endpoint: cognito.endpoint, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  const pool = await client.send(new CreateUserPoolCommand({ PoolName: 'agent' }));
  const userPoolId = pool.UserPool?.Id as string;
  const appClient = await client.send(
    new CreateUserPoolClientCommand({ UserPoolId: userPoolId, ClientName: 'cli', GenerateSecret: false, ExplicitAuthFlows: ['ALLOW_USER_SRP_AUTH', 'ALLOW_REFRESH_TOKEN_AUTH'] }),
  );
  await client.send(new CreateGroupCommand({ UserPoolId: userPoolId, GroupName: 'agent-admins' }));
  return {
    cognito,
    client,
    userPoolId,
    clientId: appClient.UserPoolClient?.ClientId as string,
    issuer: cognito.issuer(userPoolId),
    close: async () => {
      client.destroy();
      await cognito.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * An offline engine whose local server also takes the pool's ID tokens. The template is the one of the config
 * without `localJwt` (the handlers never read it), so the cached synth is reused instead of a synth per client id.
 */
export async function jwtEngine(localJwt: { issuer: string; clientId: string }, config: AgentConfigInput = {}): Promise<LocalEngine> {
  const base = parseConfig(config);
  return LocalEngine.start({ config: { ...base, localJwt }, template: templateFor(base) }, { retryScale: 0 });
}
