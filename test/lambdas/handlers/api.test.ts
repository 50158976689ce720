import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import { createHandler } from '../../../lambdas/handlers/api';
import type { LocalEngine } from '../../../local/engine';
import { testEngine } from '../../helpers/engine';

const context = { getRemainingTimeInMillis: () => 10_000, functionName: 'api', awsRequestId: 'r' } as unknown as Context;
const event = (method: string, path: string, sub?: string, groups?: string): APIGatewayProxyEvent =>
  ({
    httpMethod: method,
    path,
    headers: {},
    body: null,
    isBase64Encoded: false,
    queryStringParameters: null,
    requestContext: { authorizer: sub ? { claims: { sub, ...(groups ? { 'cognito:groups': groups } : {}) } } : undefined },
  }) as unknown as APIGatewayProxyEvent;

describe('the API Gateway handler', () => {
  let engine: LocalEngine;
  beforeAll(async () => {
    process.env.STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:agent';
    engine = await testEngine();
  });
  afterAll(async () => engine.close());

  it('takes the caller from the Cognito claims, never from the request', async () => {
    const { run } = await engine.run({ input: 'What is 2 + 2?', userId: 'cognito-sub-1' });
    const handler = createHandler(engine.runtime);
    const mine = await handler(event('GET', `/runs/${run.runId}`, 'cognito-sub-1'), context);
    expect(mine.statusCode).toBe(200);
    expect(JSON.parse(mine.body)).toMatchObject({ runId: run.runId, status: 'SUCCEEDED' });
    expect((await handler(event('GET', `/runs/${run.runId}`, 'someone-else'), context)).statusCode).toBe(404);
    expect((await handler(event('GET', `/runs/${run.runId}`), context)).statusCode).toBe(401);
  });

  it('makes members of the Cognito group agent-admins admins, and no one else', async () => {
    const { run } = await engine.run({ input: 'What is 2 + 2?', userId: 'cognito-sub-2' });
    const handler = createHandler(engine.runtime);
    expect((await handler(event('GET', '/admin/spend', 'cognito-sub-1'), context)).statusCode).toBe(403);
    expect((await handler(event('GET', '/admin/spend', 'cognito-sub-1', 'readers'), context)).statusCode).toBe(403);
    expect((await handler(event('GET', '/admin/spend', 'admin-sub', '[readers, agent-admins]'), context)).statusCode).toBe(200);
    // An admin reads anyone's run, and the read is recorded.
    expect((await handler(event('GET', `/runs/${run.runId}`, 'admin-sub', 'agent-admins'), context)).statusCode).toBe(200);
    const reads = await engine.runtime.spend.adminReads(new Date().toISOString().slice(0, 10));
    expect(reads).toContainEqual(expect.objectContaining({ adminId: 'admin-sub', runId: run.runId, owner: 'cognito-sub-2', what: 'run' }));
  });

  it('serves the trace viewer page at GET /', async () => {
    const res = await createHandler(engine.runtime)(event('GET', '/'), context);
    expect(res.statusCode).toBe(200);
    expect(res.headers?.['content-type']).toContain('text/html');
    expect(res.body).toContain('<title>Agent traces</title>');
  });

  it('serves the public sign-in settings at GET /config, without a token', async () => {
    const env = {
      USER_POOL_ID: process.env.USER_POOL_ID,
      USER_POOL_CLIENT_ID: process.env.USER_POOL_CLIENT_ID,
      AUTH_DOMAIN: process.env.AUTH_DOMAIN,
      AWS_REGION: process.env.AWS_REGION,
    };
    const handler = createHandler(engine.runtime);
    try {
      delete process.env.USER_POOL_ID;
      expect((await handler(event('GET', '/config'), context)).statusCode).toBe(404);
      Object.assign(process.env, {
        USER_POOL_ID: 'eu-west-1_AbC123',
        USER_POOL_CLIENT_ID: 'client123',
        AUTH_DOMAIN: 'https://agent-x.auth.eu-west-1.amazoncognito.com',
        AWS_REGION: 'eu-west-1',
      });
      const res = await handler(event('GET', '/config'), context);
      expect(res.statusCode).toBe(200);
      expect(JSON.parse(res.body)).toEqual({
        region: 'eu-west-1',
        userPoolId: 'eu-west-1_AbC123',
        clientId: 'client123',
        authDomain: 'https://agent-x.auth.eu-west-1.amazoncognito.com',
      });
    } finally {
      for (const [k, v] of Object.entries(env)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
});
