import { createInterface } from 'node:readline';
import { ADMINS_GROUP, type PublicConfig } from '../../lambdas/api/public-config';
import type { PoolSettings } from './cognito';
import { type CliCommand, type CliValues, UsageError } from './common';
import { apiKey, credentialsFile, loadSession, saveSession } from './session';

const str = (v: string | boolean | undefined) => (typeof v === 'string' && v ? v : undefined);

/** Cognito's endpoint: --cognito-endpoint, else the SDK's own variable (a local emulator), else AWS's. */
const cognitoEndpoint = (values: CliValues) => str(values['cognito-endpoint']) ?? str(process.env.AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER);

/** The stack's public sign-in settings, from GET <api>/config. */
async function discover(api: string): Promise<PublicConfig> {
  let res: Response;
  try {
    res = await fetch(`${apiKey(api)}/config`, { signal: AbortSignal.timeout(15_000) });
  } catch (err) {
    throw new UsageError(`cannot reach ${apiKey(api)}/config (${(err as Error).message}): is --api right? (or give --pool-id, --client-id and --region)`);
  }
  if (!res.ok) throw new UsageError(`${apiKey(api)}/config answered HTTP ${res.status}: give --pool-id, --client-id and --region (the stack's outputs)`);
  return (await res.json()) as PublicConfig;
}

/** Pool, client and region: flags first, else what the API reports. */
export async function poolSettings(values: CliValues, api: string | undefined, needClient = true): Promise<PoolSettings> {
  let userPoolId = str(values['pool-id']);
  let clientId = str(values['client-id']);
  let region = str(values.region);
  if ((!userPoolId || (needClient && !clientId)) && api) {
    const found = await discover(api);
    userPoolId ??= found.userPoolId;
    clientId ??= found.clientId ?? undefined;
    region ??= found.region;
  }
  if (!userPoolId) throw new UsageError('which user pool? give --api <url> (its GET /config reports it) or --pool-id');
  if (needClient && !clientId)
    throw new UsageError(`the API reports no app client for pool ${userPoolId}: give --client-id (docs/deploy.md: what an existing pool's client must allow)`);
  region ??= userPoolId.split('_')[0] ?? '';
  return { region, userPoolId, clientId: clientId ?? '', ...(cognitoEndpoint(values) ? { endpoint: cognitoEndpoint(values) } : {}) };
}

/** Reads answers line by line from stdin (a terminal: prompts on stderr, secrets not echoed; a pipe: one line each). */
export function lineReader(input: NodeJS.ReadableStream = process.stdin, output: NodeJS.WritableStream = process.stderr) {
  const tty = Boolean((input as NodeJS.ReadStream).isTTY);
  const rl = createInterface({ input, output: tty ? output : undefined, terminal: tty });
  let muted = false;
  if (tty) (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = (s) => output.write(muted ? s.replace(/[^\r\n]/g, '') : s);
  const queue: string[] = [];
  const waiting: ((line: string | null) => void)[] = [];
  let ended = false;
  rl.on('line', (line) => (waiting.length ? waiting.shift()?.(line) : queue.push(line)));
  rl.on('close', () => {
    ended = true;
    for (const w of waiting.splice(0)) w(null);
  });
  return {
    async ask(question: string, secret = false): Promise<string> {
      output.write(question);
      muted = secret;
      const line = queue.length ? (queue.shift() ?? null) : ended ? null : await new Promise<string | null>((r) => waiting.push(r));
      muted = false;
      if (secret && tty) output.write('\n');
      if (line === null) throw new UsageError(`no answer to "${question.trim()}" on stdin`);
      return line.trim();
    },
    close: () => rl.close(),
  };
}

export const loginCommand: CliCommand = {
  usage: 'login --api <url>      sign in to a deployed stack (SRP); every --api command then uses the session',
  async run({ values }) {
    const api = str(values.api);
    if (!api) throw new UsageError('agent login needs --api <url> (the stack output ApiUrl)');
    const pool = await poolSettings(values, api);
    const reader = lineReader();
    try {
      const username = str(values.username) ?? (await reader.ask('Email: '));
      const password = await reader.ask('Password: ', true);
      const { srpSignIn } = await import('./cognito');
      const tokens = await srpSignIn(pool, username, password, async () => {
        process.stderr.write('First sign-in: choose a new password.\n');
        return reader.ask('New password: ', true);
      });
      saveSession(api, { ...tokens, pool, username });
      process.stderr.write(`Signed in to ${apiKey(api)} as ${username}. The session is kept in ${credentialsFile()} and refreshed when it expires.\n`);
      return 0;
    } finally {
      reader.close();
    }
  },
};

export const usersCommand: CliCommand = {
  usage: 'users add <email> [--admin]  add a user to the stack’s pool (with your AWS credentials; Cognito emails a temporary password)',
  async run({ positionals, values }) {
    const [action, email] = positionals;
    if (action !== 'add' || !email) throw new UsageError('usage: agent users add <email> [--admin] [--temporary-password <p>] (--api <url> or --pool-id <id>)');
    const api = str(values.api);
    const stored = api ? loadSession(api)?.pool : undefined;
    const pool =
      str(values['pool-id']) || !stored ? await poolSettings(values, api, false) : { ...stored, ...(cognitoEndpoint(values) ? { endpoint: cognitoEndpoint(values) } : {}) };
    // The Cognito client is loaded by the commands that call Cognito only.
    const { AdminAddUserToGroupCommand, AdminCreateUserCommand, CognitoIdentityProviderClient } = await import('@aws-sdk/client-cognito-identity-provider');
    const client = new CognitoIdentityProviderClient({ region: pool.region, ...(pool.endpoint ? { endpoint: pool.endpoint } : {}) });
    const temporary = str(values['temporary-password']);
    try {
      await client.send(
        new AdminCreateUserCommand({
          UserPoolId: pool.userPoolId,
          Username: email,
          UserAttributes: [
            { Name: 'email', Value: email },
            { Name: 'email_verified', Value: 'true' },
          ],
          DesiredDeliveryMediums: ['EMAIL'],
          ...(temporary ? { TemporaryPassword: temporary } : {}),
        }),
      );
      if (values.admin) await client.send(new AdminAddUserToGroupCommand({ UserPoolId: pool.userPoolId, Username: email, GroupName: ADMINS_GROUP }));
    } catch (err) {
      const e = err as Error;
      const hint =
        e.name === 'AccessDeniedException' || e.name === 'UnrecognizedClientException'
          ? ' (needs AWS credentials allowed cognito-idp:AdminCreateUser and AdminAddUserToGroup on the pool)'
          : '';
      throw new UsageError(`users add ${email}: ${e.name}: ${e.message}${hint}`);
    } finally {
      client.destroy();
    }
    process.stdout.write(
      `${values.json ? JSON.stringify({ username: email, userPoolId: pool.userPoolId, admin: Boolean(values.admin) }) : `added ${email} to ${pool.userPoolId}${values.admin ? ` and to ${ADMINS_GROUP}` : ''}; ${temporary ? 'the temporary password is the one given' : 'Cognito emails a temporary password'}; the first agent login asks for a new one`}\n`,
    );
    return 0;
  },
};
