import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { AdminCreateUserCommand, AdminGetUserCommand, AdminSetUserPasswordCommand, CreateUserPoolClientCommand } from '@aws-sdk/client-cognito-identity-provider';
import type { Browser } from 'playwright-core';
import type { LocalEngine } from '../../local/engine';
import { type LocalServer, startServer } from '../../local/server';
import { launchChromium } from '../helpers/browser';
import { jwtEngine, startTestPool, type TestPool } from '../helpers/cognito';

const VIEWER = readFileSync(join(__dirname, '..', '..', 'lambdas', 'api', 'viewer', 'index.html'));

/**
 * The viewer as deployed: served at a stage root (/prod/) next to a public GET config, signing in through managed
 * login (cognito-local's /oauth2 pages: authorization code + PKCE), then calling the API with the ID token.
 */
describe('the trace viewer signs in through managed login (code + PKCE) and keeps the token in memory', () => {
  let pool: TestPool;
  let engine: LocalEngine;
  let server: LocalServer;
  let stage: Server;
  let stageUrl: string;
  let browser: Browser;
  let clientId: string;
  let sub: string;

  beforeAll(async () => {
    pool = await startTestPool();
    // A stand-in for API Gateway's stage: the viewer at /prod/, GET /prod/config, the API under /prod/.
    stage = createServer(async (req, res) => {
      const path = (req.url ?? '/').replace(/^\/prod/, '') || '/';
      if (path === '/' || path.startsWith('/?')) {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(VIEWER);
        return;
      }
      if (path === '/config') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ region: 'local', userPoolId: pool.userPoolId, clientId, authDomain: pool.cognito.oauthBase }));
        return;
      }
      const upstream = await fetch(server.url + path, { headers: { authorization: String(req.headers.authorization ?? '') } });
      res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' });
      res.end(await upstream.text());
    });
    await new Promise<void>((r) => stage.listen(0, '127.0.0.1', r));
    stageUrl = `http://localhost:${(stage.address() as AddressInfo).port}/prod/`;
    const client = await pool.client.send(
      new CreateUserPoolClientCommand({
        UserPoolId: pool.userPoolId,
        ClientName: 'viewer',
        GenerateSecret: false,
        AllowedOAuthFlows: ['code'],
        AllowedOAuthFlowsUserPoolClient: true,
        AllowedOAuthScopes: ['openid', 'email', 'profile'],
        CallbackURLs: [stageUrl],
      }),
    );
    clientId = client.UserPoolClient?.ClientId as string;
    const user = { UserPoolId: pool.userPoolId, Username: 'lin@example.com' };
    await pool.client.send(new AdminCreateUserCommand({ ...user, MessageAction: 'SUPPRESS', UserAttributes: [{ Name: 'email', Value: user.Username }] }));
    await pool.client.send(new AdminSetUserPasswordCommand({ ...user, Password: 'Lin-Passw0rd!', Permanent: true }));
    sub = ((await pool.client.send(new AdminGetUserCommand(user))).UserAttributes ?? []).find((a) => a.Name === 'sub')?.Value as string;
    engine = await jwtEngine({ issuer: pool.issuer, clientId });
    server = await startServer(engine, { port: 0 });
    browser = await launchChromium('viewer sign-in test');
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await new Promise<void>((r) => (stage ? stage.close(() => r()) : r()));
    await server?.close();
    await engine?.close();
    await pool?.close();
  });

  it('signs in, comes back to the run it was asked for, and keeps no token in storage or in the URL', async () => {
    const { run } = await engine.run({ input: 'What is 17 * 23?', userId: sub });
    const page = await browser.newPage();
    const authorize: string[] = [];
    page.on('request', (r) => {
      if (r.url().includes('/oauth2/authorize')) authorize.push(r.url());
    });
    await page.goto(`${stageUrl}#run=${run.runId}`);
    await page.waitForSelector('#signin:not([hidden])');
    expect(await page.isHidden('#token')).toBe(true);
    await page.click('#signin');
    await page.waitForSelector('input[name="username"]');
    const q = new URL(authorize[0] as string).searchParams;
    expect(q.get('client_id')).toBe(clientId);
    expect(q.get('redirect_uri')).toBe(stageUrl);
    expect(q.get('code_challenge_method')).toBe('S256');
    expect(q.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    await page.fill('input[name="username"]', 'lin@example.com');
    await page.fill('input[name="password"]', 'Lin-Passw0rd!');
    await page.click('button[type="submit"]');
    await page.waitForSelector(`.run[data-id="${run.runId}"]`);
    await page.waitForSelector('[data-testid="answer"]');
    expect(await page.textContent('[data-testid="answer"]')).toContain('391');
    expect(await page.isVisible('#signout')).toBe(true);
    // The code is gone from the address, the run is back in the hash; nothing is kept in web storage.
    expect(page.url()).toBe(`${stageUrl}#run=${run.runId}`);
    const stored = await page.evaluate('JSON.stringify({ ...sessionStorage }) + JSON.stringify({ ...localStorage })');
    expect(stored).toBe('{}{}');
  }, 60_000);

  it('stays on the pasted-token page where there are no sign-in settings (the local server)', async () => {
    const page = await browser.newPage();
    await page.goto(`${server.url}/`);
    await page.waitForLoadState('networkidle');
    expect(await page.isVisible('#token')).toBe(true);
    expect(await page.isHidden('#signin')).toBe(true);
  }, 30_000);
});
