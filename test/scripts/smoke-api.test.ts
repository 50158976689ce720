import { ListUsersCommand } from '@aws-sdk/client-cognito-identity-provider';
import type { LocalEngine } from '../../local/engine';
import { type LocalServer, startServer } from '../../local/server';
import { smokeRun } from '../../scripts/smoke-api';
import { type Loopback, startLoopback } from '../../testing/loopback';
import { runEntry } from '../helpers/cli';
import { EMULATOR_ENV, jwtEngine, startTestPool, type TestPool } from '../helpers/cognito';

const smoke = (args: string[], env: Record<string, string>) => runEntry('scripts/smoke-api.ts', args, { env, timeoutMs: 90_000 });

/** CloudFormation's DescribeStacks on its wire protocol (awsQuery: form-encoded request, XML answer). */
function describeStacksXml(outputs: Record<string, string>): string {
  const members = Object.entries(outputs)
    .map(([k, v]) => `<member><OutputKey>${k}</OutputKey><OutputValue>${v}</OutputValue></member>`)
    .join('');
  return `<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><DescribeStacksResult><Stacks><member><StackName>AgentStack</StackName><StackId>arn:aws:cloudformation:local:000000000000:stack/AgentStack/1</StackId><CreationTime>2026-01-01T00:00:00Z</CreationTime><StackStatus>CREATE_COMPLETE</StackStatus><Outputs>${members}</Outputs></member></Stacks></DescribeStacksResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></DescribeStacksResponse>`;
}

describe('npm run smoke -- --stack <name>, against the local API and Cognito on loopback', () => {
  let pool: TestPool;
  let engine: LocalEngine;
  let server: LocalServer;
  let cfn: Loopback;
  let env: Record<string, string>;

  beforeAll(async () => {
    pool = await startTestPool();
    engine = await jwtEngine({ issuer: pool.issuer, clientId: pool.clientId });
    server = await startServer(engine, { port: 0 });
    cfn = await startLoopback();
    env = { ...EMULATOR_ENV, AWS_ENDPOINT_URL_CLOUDFORMATION: cfn.url(''), AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER: pool.cognito.endpoint };
  }, 60_000);
  afterAll(async () => {
    await cfn?.close();
    await server?.close();
    await engine?.close();
    await pool?.close();
  });

  it('reads the outputs, signs in a throwaway user, runs the demo prompt, checks the trace, prints the viewer link', async () => {
    const outputs = { ApiUrl: `${server.url}/`, ViewerUrl: `${server.url}/`, Region: 'local', UserPoolId: pool.userPoolId, UserPoolClientId: pool.clientId };
    cfn.on('/', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/xml' });
      res.end(describeStacksXml(outputs));
    });
    const out = await smoke(['--stack', 'AgentStack'], env);
    expect(out.stderr).toContain('signed in as smoke-');
    expect(out.stderr).toMatch(/run \S+ SUCCEEDED in 2 step\(s\)/);
    expect(out.stderr).toContain('run_started, model_call, tool_call');
    expect(out.status).toBe(0);
    const [, runId] = /#run=(\S+)/.exec(out.stdout) ?? [];
    expect(out.stdout).toContain(`smoke test passed. Open the run in the viewer (sign in there): ${server.url}/#run=${runId}`);
    expect((await engine.runtime.runs.getRun(runId as string))?.status).toBe('SUCCEEDED');
    expect(new URLSearchParams(cfn.requests[0]?.body)).toEqual(new URLSearchParams({ Action: 'DescribeStacks', Version: '2010-05-15', StackName: 'AgentStack' }));
    // The throwaway user is gone.
    const users = await pool.client.send(new ListUsersCommand({ UserPoolId: pool.userPoolId }));
    expect((users.Users ?? []).some((u) => u.Attributes?.some((a) => a.Value?.startsWith('smoke-')))).toBe(false);
  }, 120_000);

  it('fails, saying what is missing, on a stack without the sign-in outputs', async () => {
    cfn.on('/', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/xml' });
      res.end(describeStacksXml({ ApiUrl: `${server.url}/` }));
    });
    const out = await smoke(['--stack', 'OldStack'], env);
    expect(out.status).toBe(1);
    expect(out.stderr).toContain('stack OldStack has no output ViewerUrl, Region, UserPoolId, UserPoolClientId');
  }, 60_000);
});

describe('npm run smoke -- <apiUrl> <token>, against a URL that is not the API', () => {
  it('says which URL it could not reach and why, not just "fetch failed"', async () => {
    // A loopback port nothing listens on any more.
    const closed = await startLoopback();
    const base = closed.url('');
    await closed.close();
    await expect(smokeRun(base, 'tok')).rejects.toThrow(new RegExp(`^cannot reach ${base.replace(/[.]/g, '\\.')}/runs \\(ECONNREFUSED\\): is the API running`));
  });

  it("says the answer was not the API's when the body is not JSON", async () => {
    const page = await startLoopback();
    page.on('/runs', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html>a web page</html>');
    });
    try {
      await expect(smokeRun(page.url(''), 'tok')).rejects.toThrow(/POST .*\/runs answered 200 with a body that is not JSON \(<html>a web page<\/html>…\): is the URL the API's\?/);
    } finally {
      await page.close();
    }
  });
});
