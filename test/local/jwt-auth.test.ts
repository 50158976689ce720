import {
  AdminAddUserToGroupCommand,
  AdminCreateUserCommand,
  AdminSetUserPasswordCommand,
  CreateUserPoolClientCommand,
  InitiateAuthCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import { jwtAuthenticator } from '../../local/jwt-auth';
import { startTestPool, type TestPool } from '../helpers/cognito';

describe('local JWT verification (as API Gateway’s Cognito authorizer), against tokens from cognito-local', () => {
  let pool: TestPool;
  let tokens: { IdToken?: string; AccessToken?: string };
  let otherClientId: string;

  beforeAll(async () => {
    pool = await startTestPool();
    const user = { UserPoolId: pool.userPoolId, Username: 'grace@example.com' };
    await pool.client.send(new AdminCreateUserCommand({ ...user, MessageAction: 'SUPPRESS', UserAttributes: [{ Name: 'email', Value: user.Username }] }));
    await pool.client.send(new AdminSetUserPasswordCommand({ ...user, Password: 'Grace-Passw0rd!', Permanent: true }));
    await pool.client.send(new AdminAddUserToGroupCommand({ ...user, GroupName: 'agent-admins' }));
    const signIn = (clientId: string) =>
      pool.client.send(new InitiateAuthCommand({ AuthFlow: 'USER_PASSWORD_AUTH', ClientId: clientId, AuthParameters: { USERNAME: user.Username, PASSWORD: 'Grace-Passw0rd!' } }));
    tokens = (await signIn(pool.clientId)).AuthenticationResult ?? {};
    otherClientId = (await pool.client.send(new CreateUserPoolClientCommand({ UserPoolId: pool.userPoolId, ClientName: 'other' }))).UserPoolClient?.ClientId as string;
  }, 60_000);
  afterAll(async () => pool?.close());

  it('takes a valid ID token: the caller is its sub, with its groups', async () => {
    const auth = jwtAuthenticator({ issuer: pool.issuer, clientId: pool.clientId });
    const sub = JSON.parse(Buffer.from((tokens.IdToken as string).split('.')[1] as string, 'base64url').toString()).sub;
    expect(await auth(`Bearer ${tokens.IdToken}`)).toEqual({ userId: sub, groups: ['agent-admins'] });
  });

  it('refuses an access token, a token for another client or issuer, a tampered token, and no token', async () => {
    const auth = jwtAuthenticator({ issuer: pool.issuer, clientId: pool.clientId });
    expect(await auth(`Bearer ${tokens.AccessToken}`)).toBeNull();
    expect(await jwtAuthenticator({ issuer: pool.issuer, clientId: otherClientId })(`Bearer ${tokens.IdToken}`)).toBeNull();
    expect(await jwtAuthenticator({ issuer: `${pool.issuer}x`, clientId: pool.clientId, jwksUri: `${pool.issuer}/.well-known/jwks.json` })(`Bearer ${tokens.IdToken}`)).toBeNull();
    const [h, p, sig] = (tokens.IdToken as string).split('.') as [string, string, string];
    const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), sub: 'someone-else' })).toString('base64url');
    expect(await auth(`Bearer ${h}.${forged}.${sig}`)).toBeNull();
    expect(await auth(undefined)).toBeNull();
    expect(await auth('Bearer not-a-jwt')).toBeNull();
    expect(await auth(`Basic ${tokens.IdToken}`)).toBeNull();
  });
});
