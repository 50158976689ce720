/**
 * Smoke test of a deployed stack: reads its outputs (CloudFormation DescribeStacks), signs in a test user (SRP),
 * runs the demo prompt through API Gateway, checks the run and its trace, and prints the viewer link.
 *
 *   npm run smoke -- --stack AgentStack [--region eu-west-1]
 *   npm run smoke -- <apiUrl> <bearer token>        (a LocalStack or any API, with a token you already have)
 *
 * The test user: SMOKE_USERNAME/SMOKE_PASSWORD when set (an existing user), else a throwaway
 * smoke-<random>@example.com made with your AWS credentials (AdminCreateUser, a permanent random password) and
 * deleted at the end. Exit 0 when every check held. Never run against AWS on the project's machines (no AWS there);
 * test/scripts/smoke-api.test.ts runs it against the local server and Cognito on loopback.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { AdminCreateUserCommand, AdminDeleteUserCommand, AdminSetUserPasswordCommand, CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import { srpSignIn } from '../bin/cli/cognito';
import type { RunView, TraceEvent } from '../lambdas/core/types';
import { printedHelp } from './usage';

export const DEMO_PROMPT = 'What is 12.5% of 3480?';
const NOT_DONE = ['RUNNING', 'PAUSED', 'AWAITING_APPROVAL'];

/** The stack outputs a client needs (lib/agent-stack.ts). */
export interface StackOutputs {
  ApiUrl: string;
  ViewerUrl: string;
  Region: string;
  UserPoolId: string;
  UserPoolClientId: string;
}

export async function stackOutputs(stackName: string, region?: string): Promise<StackOutputs> {
  const cfn = new CloudFormationClient(region ? { region } : {});
  try {
    const out = await cfn.send(new DescribeStacksCommand({ StackName: stackName }));
    const outputs = Object.fromEntries((out.Stacks?.[0]?.Outputs ?? []).map((o) => [o.OutputKey, o.OutputValue]));
    const missing = ['ApiUrl', 'ViewerUrl', 'Region', 'UserPoolId', 'UserPoolClientId'].filter((k) => !outputs[k]);
    if (missing.length) throw new Error(`stack ${stackName} has no output ${missing.join(', ')}: deploy the current version (npx cdk deploy)`);
    return outputs as unknown as StackOutputs;
  } finally {
    cfn.destroy();
  }
}

export interface SmokeOptions {
  /** An existing user; else a throwaway one is created and deleted. */
  username?: string;
  password?: string;
  /** Cognito's endpoint when not AWS's (AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER). */
  cognitoEndpoint?: string;
  log?: (line: string) => void;
  pollMs?: number;
  maxPolls?: number;
}

async function api<T>(base: string, token: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: T }> {
  const url = `${base.replace(/\/+$/, '')}${path}`;
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (err) {
    // fetch says only "fetch failed"; the cause says why (ECONNREFUSED, ENOTFOUND, a timeout).
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new Error(
      `cannot reach ${url} (${cause?.code ?? cause?.message ?? (err as Error).message}): is the API running (npm start prints its URL), or is the URL the stack's ApiUrl?`,
    );
  }
  const text = await res.text();
  try {
    return { status: res.status, json: (text ? JSON.parse(text) : {}) as T };
  } catch {
    throw new Error(`${method} ${url} answered ${res.status} with a body that is not JSON (${text.slice(0, 80)}…): is the URL the API's?`);
  }
}

/** The demo prompt through the API with a token: the run must succeed with 435, its trace must show the calls. */
export async function smokeRun(base: string, token: string, options: SmokeOptions = {}): Promise<RunView> {
  const log = options.log ?? (() => undefined);
  const start = await api<{ runId: string }>(base, token, 'POST', '/runs', { input: DEMO_PROMPT });
  if (start.status !== 202) throw new Error(`POST /runs answered ${start.status}: ${JSON.stringify(start.json)}`);
  const { runId } = start.json;
  log(`run ${runId} started`);
  let run: RunView | undefined;
  for (let i = 0; i < (options.maxPolls ?? 120); i++) {
    const got = await api<RunView>(base, token, 'GET', `/runs/${runId}`);
    if (got.status !== 200) throw new Error(`GET /runs/${runId} answered ${got.status}: ${JSON.stringify(got.json)}`);
    if (!NOT_DONE.includes(got.json.status)) {
      run = got.json;
      break;
    }
    await new Promise((r) => setTimeout(r, options.pollMs ?? 1000));
  }
  if (!run) throw new Error(`run ${runId} did not finish in time`);
  if (run.status !== 'SUCCEEDED' || !run.answer?.includes('435'))
    throw new Error(`run ${runId} ended ${run.status} with ${JSON.stringify(run.answer)}; expected SUCCEEDED and 435`);
  log(`run ${runId} SUCCEEDED in ${run.steps} step(s): ${run.answer}`);
  const trace = await api<{ events: TraceEvent[] }>(base, token, 'GET', `/runs/${runId}/trace`);
  if (trace.status !== 200) throw new Error(`GET /runs/${runId}/trace answered ${trace.status}`);
  const types = trace.json.events.map((e) => e.type);
  for (const t of ['run_started', 'model_call', 'tool_call', 'run_finished'] as const)
    if (!types.includes(t)) throw new Error(`the trace of ${runId} has no ${t} event (has: ${types.join(', ')})`);
  const times = trace.json.events.map((e) => Date.parse(e.at));
  if (times.some((t, i) => i > 0 && t < (times[i - 1] as number))) throw new Error(`the trace of ${runId} is not ordered by time`);
  log(`trace: ${types.length} events (${[...new Set(types)].join(', ')})`);
  return run;
}

/** The whole smoke test against a stack's outputs; returns the viewer link of the run. */
export async function smokeStack(outputs: StackOutputs, options: SmokeOptions = {}): Promise<{ run: RunView; viewerLink: string }> {
  const log = options.log ?? (() => undefined);
  const pool = {
    region: outputs.Region,
    userPoolId: outputs.UserPoolId,
    clientId: outputs.UserPoolClientId,
    ...(options.cognitoEndpoint ? { endpoint: options.cognitoEndpoint } : {}),
  };
  const admin = options.username ? undefined : new CognitoIdentityProviderClient({ region: pool.region, ...(pool.endpoint ? { endpoint: pool.endpoint } : {}) });
  const username = options.username ?? `smoke-${randomBytes(4).toString('hex')}@example.com`;
  const password = options.password ?? `Sm0ke-${randomBytes(12).toString('base64url')}!`;
  try {
    if (admin) {
      log(`creating the test user ${username}`);
      await admin.send(
        new AdminCreateUserCommand({
          UserPoolId: pool.userPoolId,
          Username: username,
          MessageAction: 'SUPPRESS',
          UserAttributes: [
            { Name: 'email', Value: username },
            { Name: 'email_verified', Value: 'true' },
          ],
        }),
      );
      await admin.send(new AdminSetUserPasswordCommand({ UserPoolId: pool.userPoolId, Username: username, Password: password, Permanent: true }));
    }
    const tokens = await srpSignIn(pool, username, password, () => Promise.reject(new Error(`${username} must set a new password first: sign in once with agent login`)));
    log(`signed in as ${username} (SRP)`);
    const run = await smokeRun(outputs.ApiUrl, tokens.idToken, options);
    const viewerLink = `${outputs.ViewerUrl}#run=${encodeURIComponent(run.runId)}`;
    return { run, viewerLink };
  } finally {
    if (admin) {
      await admin
        .send(new AdminDeleteUserCommand({ UserPoolId: pool.userPoolId, Username: username }))
        .catch((err) => log(`could not delete ${username}: ${(err as Error).message}`));
      admin.destroy();
    }
  }
}

export const SMOKE_USAGE = `Usage: npm run smoke -- --stack <name> [--region <region>]
       npm run smoke -- <apiUrl> <bearer token>

Runs "${DEMO_PROMPT}" through the API and checks the run (SUCCEEDED, 435) and its trace; exit 0 when every check held.
  --stack <name>     a deployed stack: reads its outputs, signs in a test user (SMOKE_USERNAME/SMOKE_PASSWORD, else a
                     throwaway user made and deleted with your AWS credentials)
  --region <region>  the stack's region (default: the SDK's, AWS_REGION)
  <apiUrl> <token>   any API with a token you already have (npm start prints both)
  -h, --help         this text`;

async function main(argv: string[]): Promise<void> {
  if (printedHelp(SMOKE_USAGE, argv)) return;
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { stack: { type: 'string' }, region: { type: 'string' } } });
  const log = (line: string) => process.stderr.write(`${line}\n`);
  if (values.stack) {
    const outputs = await stackOutputs(values.stack, values.region);
    log(`stack ${values.stack}: API ${outputs.ApiUrl}`);
    const { viewerLink } = await smokeStack(outputs, {
      username: process.env.SMOKE_USERNAME,
      password: process.env.SMOKE_PASSWORD,
      cognitoEndpoint: process.env.AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER,
      log,
    });
    process.stdout.write(`smoke test passed. Open the run in the viewer (sign in there): ${viewerLink}\n`);
    return;
  }
  const [base, token] = positionals;
  if (!base || !token) throw new Error(`an API URL and a token, or --stack <name>, are needed\n\n${SMOKE_USAGE}`);
  const run = await smokeRun(base, token, { log });
  process.stdout.write(`${JSON.stringify(run)}\n`);
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err) => {
    process.stderr.write(`smoke test failed: ${(err as Error).message}\n`);
    process.exit(1);
  });
}
