import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { challengeParameters, type SrpChallenge, startChallenge, verifyClaim } from './cognito-srp';

/**
 * A Cognito user pool service on loopback: cognito-local (from npm) behind a small front that adds what it lacks,
 * the SRP sign-in (USER_SRP_AUTH / PASSWORD_VERIFIER, testing/cognito-srp.ts). Everything else — user pools, clients,
 * groups, AdminCreateUser, NEW_PASSWORD_REQUIRED, refresh tokens, JWKS, the OAuth endpoints — is cognito-local's.
 * The front knows a password only when it was set through it (AdminCreateUser's TemporaryPassword,
 * AdminSetUserPassword, SignUp, a new password at first sign-in); it keeps them in memory.
 */
export interface LocalCognito {
  /** The endpoint SDK clients use (AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER). */
  endpoint: string;
  /** The issuer of a pool's tokens (their `iss`); its JWKS is at `${issuer}/.well-known/jwks.json`. */
  issuer(userPoolId: string): string;
  /** cognito-local itself: its managed-login pages (/oauth2/authorize, /oauth2/token, /logout) are served here. */
  oauthBase: string;
  /** What cognito-local printed (it "delivers" codes and invitations to its console). */
  output(): string;
  close(): Promise<void>;
}

const TARGET = 'AWSCognitoIdentityProviderService.';

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((r) => probe.close(() => r()));
  return port;
}

/**
 * Starts cognito-local with its data in `dir` (a .cognito folder there) on `backendPort` (it names the tokens'
 * issuer; default: a free port), and the front on `port` (0: any).
 */
export async function startLocalCognito(options: { dir: string; port?: number; backendPort?: number }): Promise<LocalCognito> {
  mkdirSync(options.dir, { recursive: true });
  const backendPort = options.backendPort ?? (await freePort());
  const backend = `http://127.0.0.1:${backendPort}`;
  let output = '';
  const child: ChildProcess = spawn(process.execPath, [require.resolve('cognito-local/lib/bin/start.js')], {
    cwd: options.dir,
    env: { ...process.env, PORT: String(backendPort), HOST: '127.0.0.1', DEBUG: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const keep = (c: Buffer) => {
    output = (output + c.toString()).slice(-64_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));

  const call = async (target: string, body: unknown) =>
    fetch(backend, {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': TARGET + target },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
  for (let i = 0; ; i++) {
    try {
      if ((await call('ListUserPools', { MaxResults: 1 })).ok) break;
    } catch {
      // not listening yet
    }
    if (i >= 150 || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error(`cognito-local did not start on ${backend}:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  const clients = new Map<string, string>(); // client id → pool id
  const passwords = new Map<string, string>(); // `${pool}/${username}` → password
  const challenges = new Map<string, { clientId: string; pool: string; srp: SrpChallenge }>();
  const poolOfClient = async (clientId: string): Promise<string | undefined> => {
    if (!clients.has(clientId)) {
      // A client made before the front saw it: ask cognito-local which pool each client belongs to.
      const pools = (await (await call('ListUserPools', { MaxResults: 60 })).json()) as { UserPools?: { Id: string }[] };
      for (const p of pools.UserPools ?? []) {
        const list = (await (await call('ListUserPoolClients', { UserPoolId: p.Id, MaxResults: 60 })).json()) as { UserPoolClients?: { ClientId: string }[] };
        for (const c of list.UserPoolClients ?? []) clients.set(c.ClientId, p.Id);
      }
    }
    return clients.get(clientId);
  };
  const notAuthorized = { status: 400, body: { __type: 'NotAuthorizedException', message: 'Incorrect username or password.' } };

  async function serve(target: string, req: Record<string, any>): Promise<{ status: number; body: unknown } | null> {
    if (target === 'InitiateAuth' && req.AuthFlow === 'USER_SRP_AUTH') {
      const pool = await poolOfClient(String(req.ClientId));
      const username = String(req.AuthParameters?.USERNAME ?? '');
      const password = pool ? passwords.get(`${pool}/${username}`) : undefined;
      if (!pool || password === undefined || !req.AuthParameters?.SRP_A) return notAuthorized;
      const srp = startChallenge(pool, username, password, String(req.AuthParameters.SRP_A));
      const session = randomUUID();
      challenges.set(session, { clientId: String(req.ClientId), pool, srp });
      return { status: 200, body: { ChallengeName: 'PASSWORD_VERIFIER', ChallengeParameters: challengeParameters(srp), Session: session } };
    }
    if (target === 'RespondToAuthChallenge' && req.ChallengeName === 'PASSWORD_VERIFIER') {
      const pending = challenges.get(String(req.Session));
      challenges.delete(String(req.Session));
      const r = req.ChallengeResponses ?? {};
      if (!pending || r.USERNAME !== pending.srp.username) return notAuthorized;
      const ok = verifyClaim(pending.pool, pending.srp, { secretBlock: r.PASSWORD_CLAIM_SECRET_BLOCK, timestamp: r.TIMESTAMP, signature: r.PASSWORD_CLAIM_SIGNATURE });
      if (!ok) return notAuthorized;
      // The password is proven: cognito-local issues the tokens (or its NEW_PASSWORD_REQUIRED challenge).
      const res = await call('InitiateAuth', {
        AuthFlow: 'USER_PASSWORD_AUTH',
        ClientId: pending.clientId,
        AuthParameters: { USERNAME: pending.srp.username, PASSWORD: passwords.get(`${pending.pool}/${pending.srp.username}`) },
      });
      return { status: res.status, body: await res.json() };
    }
    return null;
  }

  /** Learns passwords and clients from the calls that set them. */
  async function observe(target: string, req: Record<string, any>, status: number, res: Record<string, any>): Promise<void> {
    if (status !== 200) return;
    if (target === 'CreateUserPoolClient' && res.UserPoolClient) clients.set(res.UserPoolClient.ClientId, res.UserPoolClient.UserPoolId);
    if (target === 'AdminCreateUser' && req.TemporaryPassword) passwords.set(`${req.UserPoolId}/${req.Username}`, req.TemporaryPassword);
    if (target === 'AdminSetUserPassword') passwords.set(`${req.UserPoolId}/${req.Username}`, req.Password);
    if (target === 'SignUp') {
      const pool = await poolOfClient(String(req.ClientId));
      if (pool) passwords.set(`${pool}/${req.Username}`, req.Password);
    }
    if (target === 'RespondToAuthChallenge' && req.ChallengeName === 'NEW_PASSWORD_REQUIRED') {
      const pool = await poolOfClient(String(req.ClientId));
      const r = req.ChallengeResponses ?? {};
      if (pool && r.USERNAME && r.NEW_PASSWORD) passwords.set(`${pool}/${r.USERNAME}`, r.NEW_PASSWORD);
    }
  }

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      try {
        const raw = Buffer.concat(chunks).toString('utf8');
        const target = String(req.headers['x-amz-target'] ?? '').replace(TARGET, '');
        const parsed = target && raw ? (JSON.parse(raw) as Record<string, any>) : {};
        const own = target ? await serve(target, parsed) : null;
        if (own) {
          res.writeHead(own.status, { 'content-type': 'application/x-amz-json-1.1' });
          res.end(JSON.stringify(own.body));
          return;
        }
        const headers: Record<string, string> = {};
        for (const h of ['content-type', 'x-amz-target', 'authorization']) if (req.headers[h]) headers[h] = String(req.headers[h]);
        const upstream = await fetch(backend + (req.url ?? '/'), {
          method: req.method,
          headers,
          body: req.method === 'GET' || req.method === 'HEAD' ? undefined : raw,
          redirect: 'manual',
          signal: AbortSignal.timeout(10_000),
        });
        const text = await upstream.text();
        if (target) await observe(target, parsed, upstream.status, text ? (JSON.parse(text) as Record<string, any>) : {});
        const out: Record<string, string> = { 'content-type': upstream.headers.get('content-type') ?? 'application/json' };
        const location = upstream.headers.get('location');
        if (location) out.location = location;
        res.writeHead(upstream.status, out);
        res.end(text);
      } catch (err) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ __type: 'InternalErrorException', message: (err as Error).message }));
      }
    });
  });
  await new Promise<void>((r) => server.listen(options.port ?? 0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    issuer: (userPoolId) => `${backend}/${userPoolId}`,
    oauthBase: backend,
    output: () => output,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    },
  };
}
