import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { LocalEngine } from '../../local/engine';
import { type LocalServer, startServer } from '../../local/server';
import { agent } from '../helpers/cli';
import { API_KEYS_CONFIG, testEngine } from '../helpers/engine';

jest.setTimeout(120_000);

/** A development admin token (adminTokens): how the first key is made locally. */
const DEV_ADMIN = 'token-dev-admin-0123456789abcdef';

describe('API keys through the local server (api.auth "apiKeys", authorizer cache 0)', () => {
  let engine: LocalEngine;
  let server: LocalServer;
  beforeAll(async () => {
    engine = await testEngine({ ...API_KEYS_CONFIG, adminTokens: { [DEV_ADMIN]: 'ops' } });
    server = await startServer(engine, { port: 0 });
  });
  afterAll(async () => {
    await server.close();
    await engine.close();
  });

  const keys = (token: string, ...args: string[]) => agent(['keys', ...args, '--api', server.url, '--token', token, '--json']);
  const call = (key: string, method: string, path: string, body?: unknown) =>
    fetch(`${server.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const finished = async (key: string, runId: string) => {
    for (let i = 0; i < 200; i++) {
      const run = (await (await call(key, 'GET', `/runs/${runId}`)).json()) as { status: string };
      if (run.status !== 'RUNNING') return run;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`run ${runId} did not finish`);
  };

  it('a key made by `agent keys create` starts and reads its user’s runs; after `agent keys revoke` it gets 401', async () => {
    const made = await keys(DEV_ADMIN, 'create', '--user', 'alice');
    expect(made).toMatchObject({ status: 0 });
    const { keyId, key, userId, admin } = JSON.parse(made.stdout) as { keyId: string; key: string; userId: string; admin: boolean };
    expect({ userId, admin }).toEqual({ userId: 'alice', admin: false });
    expect(key).toMatch(/^agk_[a-z0-9]{16}_[A-Za-z0-9_-]{43}$/);

    const started = await call(key, 'POST', '/runs', { input: 'What is 12.5% of 3480?' });
    expect(started.status).toBe(202);
    const { runId } = (await started.json()) as { runId: string };
    expect(await finished(key, runId)).toMatchObject({ runId, status: 'SUCCEEDED' });
    const mine = (await (await call(key, 'GET', '/runs')).json()) as { runs: { runId: string }[] };
    expect(mine.runs.map((r) => r.runId)).toContain(runId);
    await expect(engine.runtime.runs.getRun(runId)).resolves.toMatchObject({ userId: 'alice' });

    // Another user's key: alice's run is no run at all; a user's key is no admin.
    const bob = JSON.parse((await keys(DEV_ADMIN, 'create', '--user', 'bob')).stdout) as { key: string };
    expect((await call(bob.key, 'GET', `/runs/${runId}`)).status).toBe(404);
    expect((await call(key, 'GET', '/admin/keys')).status).toBe(403);

    // The table keeps the key's digest, never the key; listing shows no secret either.
    const items = (await engine.dynamo.doc.send(new ScanCommand({ TableName: engine.runtime.runs.tableName }))).Items ?? [];
    const stored = items.find((i) => i.keyId === keyId);
    expect(stored).toMatchObject({
      keyUserId: 'alice',
      admin: false,
      secretHash: expect.stringMatching(/^[0-9a-f]{64}$/),
      createdAt: expect.any(String),
      lastUsedAt: expect.any(String),
    });
    expect(stored).not.toHaveProperty('userId');
    expect(JSON.stringify(items)).not.toContain(key.split('_')[2]);
    const listed = await keys(DEV_ADMIN, 'list', '--user', 'alice');
    expect(JSON.parse(listed.stdout).keys).toEqual([expect.objectContaining({ keyId, userId: 'alice', admin: false })]);
    expect(listed.stdout).not.toContain('secretHash');

    const revoked = await keys(DEV_ADMIN, 'revoke', keyId);
    expect(revoked).toMatchObject({ status: 0 });
    expect(JSON.parse(revoked.stdout)).toMatchObject({ keyId, revokedAt: expect.any(String) });
    const refused = await call(key, 'GET', '/runs');
    expect(refused.status).toBe(401);
    expect(await refused.json()).toEqual({ error: { code: 'UNAUTHORIZED', message: expect.stringContaining('bearer token') } });
    expect((await call(key, 'POST', '/runs', { input: 'hi' })).status).toBe(401);
    // Bob's key still works.
    expect((await call(bob.key, 'GET', '/runs')).status).toBe(200);
  });

  it('an admin key administers keys through the authorizer; made-up keys and other tokens are 401', async () => {
    const adminKey = (JSON.parse((await keys(DEV_ADMIN, 'create', '--user', 'ops-bot', '--admin')).stdout) as { key: string }).key;
    const made = await keys(adminKey, 'create', '--user', 'carol');
    expect(made.status).toBe(0);
    const carol = JSON.parse(made.stdout) as { keyId: string };
    expect(JSON.parse((await keys(adminKey, 'list')).stdout).keys.map((k: { keyId: string }) => k.keyId)).toContain(carol.keyId);
    const forged = `agk_${carol.keyId}_${'A'.repeat(43)}`;
    for (const token of [forged, 'agk_nope', 'not-a-key-at-all-0123456789']) expect((await call(token, 'GET', '/runs')).status).toBe(401);
    expect((await fetch(`${server.url}/runs`)).status).toBe(401);
    expect((await keys(adminKey, 'revoke', 'zzzzzzzzzzzzzzzz')).stderr).toMatch(/404 NOT_FOUND/);
  });

  it('the first admin key: `agent keys create --stack` writes it to the stack’s table with AWS credentials, and it administers keys', async () => {
    // CloudFormation's DescribeStacks (query protocol) for the stack, naming the engine's table as its TableName output.
    const cfn: Server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        const ok = new URLSearchParams(body).get('Action') === 'DescribeStacks';
        res.writeHead(ok ? 200 : 400, { 'content-type': 'text/xml' });
        res.end(
          ok
            ? `<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><DescribeStacksResult><Stacks><member><StackName>AgentStack</StackName><StackId>arn:aws:cloudformation:local:000000000000:stack/AgentStack/1</StackId><StackStatus>CREATE_COMPLETE</StackStatus><CreationTime>2026-01-01T00:00:00Z</CreationTime><Outputs><member><OutputKey>TableName</OutputKey><OutputValue>${engine.runtime.runs.tableName}</OutputValue></member></Outputs></member></Stacks></DescribeStacksResult><ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></DescribeStacksResponse>`
            : '<ErrorResponse><Error><Code>InvalidAction</Code></Error></ErrorResponse>',
        );
      });
    });
    await new Promise<void>((r) => cfn.listen(0, '127.0.0.1', () => r()));
    try {
      const env = {
        AWS_ENDPOINT_URL_CLOUDFORMATION: `http://127.0.0.1:${(cfn.address() as AddressInfo).port}`,
        AWS_ENDPOINT_URL_DYNAMODB: engine.dynamoFront.url,
        AWS_ACCESS_KEY_ID: 'test',
        AWS_SECRET_ACCESS_KEY: 'test',
      };
      const made = await agent(['keys', 'create', '--user', 'root', '--admin', '--stack', 'AgentStack', '--region', 'local', '--json'], { env });
      expect(made).toMatchObject({ status: 0 });
      const { key, createdBy } = JSON.parse(made.stdout) as { key: string; createdBy: string };
      expect(createdBy).toMatch(/^cli/);
      // No development token involved: the key goes through the authorizer and may administer keys.
      const listed = await keys(key, 'list', '--user', 'root');
      expect(listed).toMatchObject({ status: 0 });
      expect(JSON.parse(listed.stdout).keys).toEqual([expect.objectContaining({ userId: 'root', admin: true, lastUsedAt: expect.any(String) })]);
    } finally {
      await new Promise<void>((r) => cfn.close(() => r()));
    }
  });
});
