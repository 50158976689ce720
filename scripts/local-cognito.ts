/**
 * `npm run cognito`: Cognito on loopback for the local JWT path — cognito-local (npm) with the SRP front
 * (testing/cognito.ts) on http://127.0.0.1:9229 (cognito-local itself, the issuer, on 9230), its data in .agent-data/cognito. The first start creates a pool, a
 * public client (SRP, refresh, code + PKCE with the local viewer as callback) and the agent-admins group, and keeps
 * their ids in settings.json. Prints the `localJwt` config and the commands that use it. Ctrl-C stops it.
 * Passwords are known to the SRP front only for users added (or whose password was set) while it runs.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CognitoIdentityProviderClient, CreateGroupCommand, CreateUserPoolClientCommand, CreateUserPoolCommand } from '@aws-sdk/client-cognito-identity-provider';
import { startLocalCognito } from '../testing/cognito';
import { printedHelp } from './usage';

async function main(): Promise<void> {
  const dir = resolve(process.env.COGNITO_DIR ?? join('.agent-data', 'cognito'));
  const port = Number(process.env.COGNITO_PORT ?? 9229);
  const viewer = `http://localhost:${process.env.PORT ?? 3000}/`;
  // cognito-local itself on the next port: it names the tokens' issuer, which the config keeps.
  const cognito = await startLocalCognito({ dir, port, backendPort: port + 1 });
  const file = join(dir, 'settings.json');
  let settings: { userPoolId: string; clientId: string };
  if (existsSync(file)) settings = JSON.parse(readFileSync(file, 'utf8'));
  else {
    const client = new CognitoIdentityProviderClient({ region: 'local', endpoint: cognito.endpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    const pool = await client.send(new CreateUserPoolCommand({ PoolName: 'agent' }));
    const userPoolId = pool.UserPool?.Id as string;
    const app = await client.send(
      new CreateUserPoolClientCommand({
        UserPoolId: userPoolId,
        ClientName: 'agent',
        GenerateSecret: false,
        ExplicitAuthFlows: ['ALLOW_USER_SRP_AUTH', 'ALLOW_REFRESH_TOKEN_AUTH'],
        AllowedOAuthFlows: ['code'],
        AllowedOAuthFlowsUserPoolClient: true,
        AllowedOAuthScopes: ['openid', 'email', 'profile'],
        CallbackURLs: [viewer],
      }),
    );
    await client.send(new CreateGroupCommand({ UserPoolId: userPoolId, GroupName: 'agent-admins' }));
    client.destroy();
    settings = { userPoolId, clientId: app.UserPoolClient?.ClientId as string };
    writeFileSync(file, JSON.stringify(settings, null, 1));
  }
  const flags = `--pool-id ${settings.userPoolId} --client-id ${settings.clientId} --cognito-endpoint ${cognito.endpoint}`;
  process.stdout.write(
    [
      `Cognito (cognito-local + SRP) on ${cognito.endpoint}, data in ${dir}`,
      `  config for npm start:  "localJwt": ${JSON.stringify({ issuer: cognito.issuer(settings.userPoolId), clientId: settings.clientId })}`,
      `  add a user:  AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local npx agent users add you@example.com --admin --temporary-password 'Temp-Passw0rd!' ${flags}`,
      `  sign in:     npx agent login --api ${viewer.replace(/\/$/, '')} ${flags}`,
      '',
    ].join('\n'),
  );
  await new Promise<void>((stop) => {
    process.once('SIGINT', () => stop());
    process.once('SIGTERM', () => stop());
  });
  await cognito.close();
}

const USAGE = `Usage: npm run cognito

Cognito on loopback for the local JWT path: cognito-local with an SRP front on http://127.0.0.1:9229 (COGNITO_PORT),
its data in .agent-data/cognito (COGNITO_DIR). Prints the localJwt config and the commands that use it; Ctrl-C stops it.
  -h, --help   this text`;

if (!printedHelp(USAGE)) {
  main().catch((err) => {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(1);
  });
}
