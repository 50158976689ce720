import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DescribeExecutionCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { causeMessage } from '../../lambdas/core/errors';
import { parseConfig } from '../../lib/config';
import type { PolicyStatement } from '../../local/iam/policy';
import { accessKeyIdOf } from '../../local/iam/roles';
import { localSecretArn } from '../../local/secrets-manager';
import { startServer } from '../../local/server';
import { type CfnTemplate, functionsOf } from '../../local/template';
import { type FakeProvider, startFakeOpenAI } from '../../testing/fake-providers';
import { templateFor, testEngine } from '../helpers/engine';

const config = parseConfig({});

/** A copy of the template with every statement `drop` picks removed from its IAM policies. */
function withoutStatements(template: CfnTemplate, drop: (statement: PolicyStatement) => boolean): CfnTemplate {
  const copy = JSON.parse(JSON.stringify(template)) as CfnTemplate;
  for (const r of Object.values(copy.Resources)) {
    if (r.Type !== 'AWS::IAM::Policy') continue;
    const doc = r.Properties?.PolicyDocument as { Statement: PolicyStatement[] };
    doc.Statement = doc.Statement.filter((s) => !drop(s));
  }
  return copy;
}

/** A copy of the template with every statement whose actions match `drop` removed from its IAM policies. */
const withoutGrants = (template: CfnTemplate, drop: (action: string) => boolean) => withoutStatements(template, (s) => [s.Action ?? []].flat().some(drop));

const fnOf = (template: CfnTemplate, handler: string) => {
  const fn = functionsOf(template).find((f) => f.handler === handler);
  if (!fn) throw new Error(`no ${handler} function`);
  return fn;
};

describe('IAM offline: every AWS call of a handler is checked against the role the stack gives it', () => {
  it('with the real grants, a request runs end to end (least privilege is enough)', async () => {
    const engine = await testEngine({});
    try {
      const { run, error } = await engine.run({ input: 'What is 2+2?' });
      expect(error).toBeUndefined();
      expect(run.status).toBe('SUCCEEDED');
      expect(engine.iam.denials).toEqual([]);
    } finally {
      await engine.close();
    }
  }, 60_000);

  it('with every table grant deleted, the run fails naming AccessDeniedException for the DynamoDB action', async () => {
    const engine = await testEngine({}, { template: withoutGrants(templateFor(config), (a) => a.startsWith('dynamodb:')) });
    try {
      const { error } = await engine.run({ input: 'What is 2+2?' });
      expect(error?.name).toBe('AccessDeniedException');
      // The execution's Cause is Lambda's error document; its errorMessage is AWS's denial.
      expect(causeMessage(error?.message)).toMatch(
        /^User: arn:aws:sts::000000000000:assumed-role\/\w+\/\w+ is not authorized to perform: dynamodb:\w+ on resource: arn:aws:dynamodb:local:000000000000:table\/\w+ because no identity-based policy allows the dynamodb:\w+ action$/,
      );
      expect(engine.iam.denials.length).toBeGreaterThan(0);
    } finally {
      await engine.close();
    }
  }, 60_000);

  it('DynamoDB answers a denied call as AWS does (HTTP 400, coral AccessDeniedException naming action and table)', async () => {
    const template = withoutGrants(templateFor(config), (a) => a === 'dynamodb:PutItem');
    const engine = await testEngine({}, { template });
    const fn = fnOf(template, 'call-model');
    const table = fn.env.TABLE_NAME;
    const client = new DynamoDBClient({
      endpoint: engine.dynamoFront.url,
      region: 'local',
      maxAttempts: 1,
      credentials: { accessKeyId: accessKeyIdOf(fn.logicalId), secretAccessKey: 'x' },
    });
    try {
      const put = new PutItemCommand({ TableName: table, Item: { pk: { S: 'p' }, sk: { S: 's' } } });
      await expect(client.send(put)).rejects.toMatchObject({
        name: 'AccessDeniedException',
        $metadata: { httpStatusCode: 400 },
        message: expect.stringContaining(
          `is not authorized to perform: dynamodb:PutItem on resource: arn:aws:dynamodb:local:000000000000:table/${table} because no identity-based policy allows the dynamodb:PutItem action`,
        ),
      });
      const raw = await fetch(engine.dynamoFront.url, {
        method: 'POST',
        headers: {
          'x-amz-target': 'DynamoDB_20120810.PutItem',
          'content-type': 'application/x-amz-json-1.0',
          authorization: `AWS4-HMAC-SHA256 Credential=${accessKeyIdOf(fn.logicalId)}/20260101/local/dynamodb/aws4_request, SignedHeaders=host, Signature=0`,
        },
        body: JSON.stringify({ TableName: table, Item: { pk: { S: 'p' }, sk: { S: 's' } } }),
      });
      expect(raw.status).toBe(400);
      expect(await raw.json()).toEqual({
        __type: 'com.amazon.coral.service#AccessDeniedException',
        message: `User: arn:aws:sts::000000000000:assumed-role/${engine.iam.model.principalOf(accessKeyIdOf(fn.logicalId))?.roleName}/${fn.logicalId} is not authorized to perform: dynamodb:PutItem on resource: arn:aws:dynamodb:local:000000000000:table/${table} because no identity-based policy allows the dynamodb:PutItem action`,
      });
      // test/test is the account's administrator; an access key nobody has is not a client at all.
      const admin = new DynamoDBClient({ endpoint: engine.dynamoFront.url, region: 'local', maxAttempts: 1, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
      await expect(admin.send(put)).resolves.toBeDefined();
      admin.destroy();
      const stranger = new DynamoDBClient({ endpoint: engine.dynamoFront.url, region: 'local', maxAttempts: 1, credentials: { accessKeyId: 'nobody', secretAccessKey: 'x' } });
      await expect(stranger.send(put)).rejects.toMatchObject({ name: 'UnrecognizedClientException' });
      stranger.destroy();
    } finally {
      client.destroy();
      await engine.close();
    }
  }, 60_000);

  it("the state machine's role is checked on each Lambda invoke: without lambda:InvokeFunction the task fails AccessDenied", async () => {
    const engine = await testEngine({}, { template: withoutGrants(templateFor(config), (a) => a === 'lambda:InvokeFunction') });
    try {
      const { error } = await engine.run({ input: 'What is 2+2?' });
      expect(error?.name).toBe('Lambda.AWSLambdaException');
      expect(error?.message).toMatch(
        /is not authorized to perform: lambda:InvokeFunction on resource: arn:aws:lambda:local:000000000000:function:\w+(:\w+)? .*AccessDeniedException/,
      );
    } finally {
      await engine.close();
    }
  }, 60_000);

  it("the Step Functions API checks the API function's role: without states:StartExecution it is AccessDenied", async () => {
    const engine = await testEngine({}, { template: withoutGrants(templateFor(config), (a) => a === 'states:StartExecution') });
    const api = fnOf(engine.template, 'api');
    const sfn = new SFNClient({ endpoint: engine.sfnApi.url, region: 'local', maxAttempts: 1, credentials: { accessKeyId: accessKeyIdOf(api.logicalId), secretAccessKey: 'x' } });
    try {
      await expect(sfn.send(new StartExecutionCommand({ stateMachineArn: engine.stateMachineArn, input: '{}' }))).rejects.toMatchObject({
        name: 'AccessDeniedException',
        message: expect.stringContaining(`is not authorized to perform: states:StartExecution on resource: ${engine.stateMachineArn}`),
      });
      // What it is granted (DescribeExecution on the machine's executions) it may still do.
      await expect(sfn.send(new DescribeExecutionCommand({ executionArn: `arn:aws:states:local:000000000000:execution:${engine.stateMachineName}:none` }))).rejects.toMatchObject({
        name: 'ExecutionDoesNotExist',
      });
    } finally {
      sfn.destroy();
      await engine.close();
    }
  }, 60_000);

  describe('POST /runs: Step Functions authorizes a StartExecution on the alias against the unqualified machine', () => {
    const TOKEN = 'token-iam-0123456789abcdef';
    /** POST /runs through the local server (the API handler signs its StartExecution as the API function). */
    async function postRun(template: CfnTemplate) {
      const engine = await testEngine({ localTokens: { [TOKEN]: 'alice' } }, { template });
      const server = await startServer(engine, { port: 0 });
      const res = await fetch(`${server.url}/runs`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ input: 'What is 2+2?' }),
      });
      return { engine, server, status: res.status, body: (await res.json()) as { runId?: string; error?: { code: string; message: string } } };
    }

    it('with the grant the stack had (StartExecution on the alias ARN only), POST /runs fails 503 START_FAILED naming the AccessDenied on the unqualified machine', async () => {
      const template = JSON.parse(JSON.stringify(templateFor(config))) as CfnTemplate;
      const aliasId = Object.entries(template.Resources).find(([, r]) => r.Type === 'AWS::StepFunctions::StateMachineAlias')?.[0];
      let replaced = 0;
      for (const r of Object.values(template.Resources)) {
        if (r.Type !== 'AWS::IAM::Policy') continue;
        for (const st of (r.Properties?.PolicyDocument as { Statement: PolicyStatement[] } | undefined)?.Statement ?? []) {
          if (![st.Action].flat().includes('states:StartExecution')) continue;
          delete st.Condition;
          st.Resource = { Ref: aliasId } as unknown as string;
          replaced++;
        }
      }
      // The API's grant and the execution-status handler's (it starts a thread's queued run).
      expect(replaced).toBe(2);
      const { engine, server, status, body } = await postRun(template);
      try {
        expect(status).toBe(503);
        expect(body.error?.code).toBe('START_FAILED');
        expect(body.error?.message).toContain(
          `AccessDeniedException: User: arn:aws:sts::000000000000:assumed-role/${engine.iam.model.principalOf(accessKeyIdOf(fnOf(template, 'api').logicalId))?.roleName}/`,
        );
        expect(body.error?.message).toContain(
          `is not authorized to perform: states:StartExecution on resource: ${engine.stateMachineArn} because no identity-based policy allows the states:StartExecution action`,
        );
        expect(engine.iam.denials.map((d) => [d.action, d.resource])).toEqual([['states:StartExecution', engine.stateMachineArn]]);
      } finally {
        await server.close();
        await engine.close();
      }
    }, 60_000);

    it('with the fixed grant (the machine ARN, ForAnyValue:StringEquals states:StateMachineQualifier = live), POST /runs starts the run on the alias and it succeeds', async () => {
      const { engine, server, status, body } = await postRun(templateFor(config));
      try {
        expect(engine.iam.denials.map((d) => d.message)).toEqual([]);
        expect(status).toBe(202);
        const { run } = await engine.execute(String(body.runId), 'alice');
        expect(run.status).toBe('SUCCEEDED');
        const api = engine.iam.model.principalOf(accessKeyIdOf(fnOf(engine.template, 'api').logicalId));
        expect(engine.iam.used.get(api?.roleName ?? '')).toContain('states:StartExecution');
        // The same role may not start the unqualified machine, nor a version, nor another alias.
        const sfn = new SFNClient({
          endpoint: engine.sfnApi.url,
          region: 'local',
          maxAttempts: 1,
          credentials: { accessKeyId: accessKeyIdOf(fnOf(engine.template, 'api').logicalId), secretAccessKey: 'x' },
        });
        try {
          for (const arn of [engine.stateMachineArn, `${engine.stateMachineArn}:1`, `${engine.stateMachineArn}:beta`]) {
            await expect(sfn.send(new StartExecutionCommand({ stateMachineArn: arn, input: '{}' }))).rejects.toMatchObject({
              name: 'AccessDeniedException',
              message: expect.stringContaining(`is not authorized to perform: states:StartExecution on resource: ${engine.stateMachineArn} `),
            });
          }
        } finally {
          sfn.destroy();
        }
      } finally {
        await server.close();
        await engine.close();
      }
    }, 60_000);
  });

  describe('Bedrock: a bedrock model is called through the local Bedrock Runtime as the model function', () => {
    const HAIKU = 'anthropic.claude-3-haiku-20240307-v1:0';
    // The same models as test/lib/bedrock.test.ts (one template for both): a model in its region, an inference profile.
    const bedrockConfig = {
      models: { primary: { provider: 'bedrock' as const, model: HAIKU, region: 'us-east-1' }, fallback: { provider: 'bedrock' as const, model: 'eu.amazon.nova-lite-v1:0' } },
    };

    it('with the grant the stack gives (exactly the configured models), a run on a bedrock model succeeds', async () => {
      const engine = await testEngine(bedrockConfig);
      try {
        const { run, error } = await engine.run({ input: 'What is 2+2?' });
        // First, so that a grant missing from the stack fails this test naming the AccessDenied.
        expect(engine.iam.denials.map((d) => d.message)).toEqual([]);
        expect(error).toBeUndefined();
        expect(run.status).toBe('SUCCEEDED');
        const role = engine.iam.model.principalOf(accessKeyIdOf(fnOf(engine.template, 'call-model').logicalId))?.roleName ?? '';
        expect(engine.iam.used.get(role)).toContain('bedrock:InvokeModel');
      } finally {
        await engine.close();
      }
    }, 60_000);

    it('without the Bedrock grant, each model call fails AccessDeniedException for bedrock:InvokeModel (a BadRequest: no retry) and the run ends DEGRADED', async () => {
      const engine = await testEngine(bedrockConfig, { template: withoutGrants(templateFor(parseConfig(bedrockConfig)), (a) => a.startsWith('bedrock:')) });
      try {
        const { run } = await engine.run({ input: 'What is 2+2?' });
        expect(run.status).toBe('DEGRADED');
        const trace = await engine.runtime.runs.listEvents(run.runId);
        const calls = trace.filter((e) => e.type === 'model_call') as { error?: { name: string; message: string } }[];
        expect(calls.map((c) => c.error?.name)).toEqual(['BadRequest', 'BadRequest']);
        expect(calls[0]?.error?.message).toMatch(
          new RegExp(
            `^bedrock ${HAIKU.replaceAll('.', '\\.')}: AccessDeniedException \\(HTTP 403\\): User: arn:aws:sts::000000000000:assumed-role/\\w+/CallModelFunction\\w+ is not authorized to perform: bedrock:InvokeModel on resource: arn:aws:bedrock:us-east-1::foundation-model/${HAIKU.replaceAll('.', '\\.')} because`,
          ), // (the classifier keeps 300 characters of a message)
        );
        expect(engine.iam.denials.map((d) => [d.action, d.resource])).toEqual([
          ['bedrock:InvokeModel', `arn:aws:bedrock:us-east-1::foundation-model/${HAIKU}`],
          ['bedrock:InvokeModel', 'arn:aws:bedrock:local:000000000000:inference-profile/eu.amazon.nova-lite-v1:0'],
        ]);
      } finally {
        await engine.close();
      }
    }, 60_000);
  });

  describe('Secrets Manager: the model key (apiKeySecret) is read through the local endpoint as the model function', () => {
    let fake: FakeProvider;
    const SECRET = 'agent/openai-key';
    const secretConfig = () => ({
      models: { primary: { provider: 'openai' as const, model: 'gpt-x', contextWindowTokens: 128_000, baseUrl: fake.url, apiKeySecret: SECRET, timeoutMs: 5000 } },
    });
    beforeAll(async () => {
      fake = await startFakeOpenAI();
    });
    afterAll(async () => fake.close());
    beforeEach(() => fake.reset());

    it('with the grant, a run using apiKeySecret against a fake provider on 127.0.0.1 succeeds with the key from the secret', async () => {
      const engine = await testEngine(secretConfig(), { secrets: { [SECRET]: '{"apiKey":"sk-from-local-secret"}' } });
      try {
        const { run, error } = await engine.run({ input: 'hello' });
        // First, so that a grant missing from the stack fails this test naming the AccessDenied.
        expect(engine.iam.denials.map((d) => d.message)).toEqual([]);
        expect(error).toBeUndefined();
        expect(run.status).toBe('SUCCEEDED');
        expect(fake.requests.map((r) => r.headers.authorization)).toEqual(['Bearer sk-from-local-secret']);
        const callModel = fnOf(engine.template, 'call-model');
        const role = engine.iam.model.principalOf(accessKeyIdOf(callModel.logicalId))?.roleName ?? '';
        expect(engine.iam.used.get(role)).toContain('secretsmanager:GetSecretValue');
      } finally {
        await engine.close();
      }
    }, 60_000);

    it('without the secret grant, the model call fails AccessDenied for secretsmanager:GetSecretValue (a BadRequest: no retry) and no request reaches the provider', async () => {
      const config = parseConfig(secretConfig());
      const engine = await testEngine(secretConfig(), {
        template: withoutGrants(templateFor(config), (a) => a.startsWith('secretsmanager:')),
        secrets: { [SECRET]: 'sk-never-read' },
      });
      try {
        const { run } = await engine.run({ input: 'hello' });
        expect(run.status).toBe('DEGRADED');
        const trace = await engine.runtime.runs.listEvents(run.runId);
        const call = trace.find((e) => e.type === 'model_call') as { error?: { name: string; message: string } } | undefined;
        expect(call?.error?.name).toBe('BadRequest');
        expect(call?.error?.message).toMatch(
          new RegExp(
            `^secret ${SECRET}: AccessDeniedException: User: arn:aws:sts::000000000000:assumed-role/\\w+/CallModelFunction\\w+ is not authorized to perform: secretsmanager:GetSecretValue on resource: ${localSecretArn(SECRET)} because no identity-based policy allows the secretsmanager:GetSecretValue action$`,
          ),
        );
        expect(engine.iam.denials.map((d) => [d.action, d.resource])).toEqual([['secretsmanager:GetSecretValue', localSecretArn(SECRET)]]);
        expect(fake.requests).toHaveLength(0);
      } finally {
        await engine.close();
      }
    }, 60_000);

    it('answers as Secrets Manager does: AccessDeniedException for another role, the value for the granted one, ResourceNotFound for a missing secret', async () => {
      const engine = await testEngine(secretConfig(), { secrets: { [SECRET]: 'sk-1' } });
      const as = (fn: string) =>
        new SecretsManagerClient({
          endpoint: engine.secretsManager.url,
          region: 'local',
          maxAttempts: 1,
          credentials: { accessKeyId: accessKeyIdOf(fnOf(engine.template, fn).logicalId), secretAccessKey: 'x' },
        });
      const [model, api] = [as('call-model'), as('api')];
      try {
        await expect(model.send(new GetSecretValueCommand({ SecretId: SECRET }))).resolves.toMatchObject({ SecretString: 'sk-1', Name: SECRET, ARN: localSecretArn(SECRET) });
        await expect(api.send(new GetSecretValueCommand({ SecretId: SECRET }))).rejects.toMatchObject({
          name: 'AccessDeniedException',
          $metadata: { httpStatusCode: 400 },
          message: expect.stringContaining(`is not authorized to perform: secretsmanager:GetSecretValue on resource: ${localSecretArn(SECRET)}`),
        });
        // The grant is on this secret only (`agent/openai-key-??????`): another one is denied, a missing one within it is not found.
        await expect(model.send(new GetSecretValueCommand({ SecretId: 'agent/other' }))).rejects.toMatchObject({ name: 'AccessDeniedException' });
        const missing = await testEngine(secretConfig(), { template: engine.template });
        const modelOfMissing = new SecretsManagerClient({
          endpoint: missing.secretsManager.url,
          region: 'local',
          maxAttempts: 1,
          credentials: { accessKeyId: accessKeyIdOf(fnOf(engine.template, 'call-model').logicalId), secretAccessKey: 'x' },
        });
        try {
          await expect(modelOfMissing.send(new GetSecretValueCommand({ SecretId: SECRET }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
        } finally {
          modelOfMissing.destroy();
          await missing.close();
        }
      } finally {
        model.destroy();
        api.destroy();
        await engine.close();
      }
    }, 60_000);
  });

  describe('Lambda: a lambda tool is invoked through the local Invoke API as the tool function', () => {
    const ARN = 'arn:aws:lambda:us-east-1:123456789012:function:orders';
    const toolConfig = {
      tools: [
        {
          name: 'retrieve',
          kind: 'lambda' as const,
          functionArn: ARN,
          description: 'Looks up orders and product notes.',
          parameters: { type: 'object', properties: { query: { type: 'string' } }, required: ['query'] },
          localHandler: 'test/fixtures/lambda/orders.ts#lookup',
        },
      ],
    };

    it('without lambda:InvokeFunction on the function, the tool call is an error result naming AccessDenied for lambda:InvokeFunction', async () => {
      const config = parseConfig(toolConfig);
      const template = withoutStatements(templateFor(config), (s) => [s.Resource].flat().includes(ARN));
      const engine = await testEngine(toolConfig, { template });
      try {
        const { run } = await engine.run({ input: 'How does the circuit breaker work?' });
        const trace = await engine.runtime.runs.listEvents(run.runId);
        const call = trace.find((e) => e.type === 'tool_call' && e.name === 'retrieve') as { isError?: boolean; result?: string } | undefined;
        expect(call?.isError).toBe(true);
        expect(call?.result).toMatch(
          new RegExp(
            `AccessDeniedException: User: arn:aws:sts::000000000000:assumed-role/\\w+/CallToolFunction\\w+ is not authorized to perform: lambda:InvokeFunction on resource: ${ARN} because no identity-based policy allows the lambda:InvokeFunction action`,
          ),
        );
        expect(engine.iam.denials.map((d) => [d.action, d.resource])).toEqual([['lambda:InvokeFunction', ARN]]);
      } finally {
        await engine.close();
      }
    }, 60_000);

    it("with the grant, the tool's localHandler answers behind the endpoint; only the granted role may invoke it, with Lambda's response shape", async () => {
      const engine = await testEngine(toolConfig);
      const as = (fn: string) =>
        new LambdaClient({
          endpoint: engine.lambdaApi.url,
          region: 'us-east-1',
          maxAttempts: 1,
          credentials: { accessKeyId: accessKeyIdOf(fnOf(engine.template, fn).logicalId), secretAccessKey: 'x' },
        });
      const [tool, model] = [as('call-tool'), as('call-model')];
      try {
        const { run } = await engine.run({ input: 'How does the circuit breaker work?' });
        // First, so that a grant missing from the stack fails this test naming the AccessDenied.
        expect(engine.iam.denials.map((d) => d.message)).toEqual([]);
        expect(run.status).toBe('SUCCEEDED');
        const role = engine.iam.model.principalOf(accessKeyIdOf(fnOf(engine.template, 'call-tool').logicalId))?.roleName ?? '';
        expect(engine.iam.used.get(role)).toContain('lambda:InvokeFunction');
        const ok = await tool.send(new InvokeCommand({ FunctionName: ARN, Payload: new TextEncoder().encode('{"id":"A-1"}') }));
        expect(ok).toMatchObject({ StatusCode: 200, ExecutedVersion: '$LATEST' });
        expect(ok.FunctionError).toBeUndefined();
        expect(JSON.parse(new TextDecoder().decode(ok.Payload))).toMatchObject({ order: 'A-1', status: 'shipped' });
        const failed = await tool.send(new InvokeCommand({ FunctionName: ARN, Payload: new TextEncoder().encode('{"id":"boom"}') }));
        expect(failed).toMatchObject({ StatusCode: 200, FunctionError: 'Unhandled' });
        expect(JSON.parse(new TextDecoder().decode(failed.Payload))).toMatchObject({ errorType: 'RangeError', errorMessage: 'order boom does not exist' });
        await expect(model.send(new InvokeCommand({ FunctionName: ARN, Payload: new TextEncoder().encode('{}') }))).rejects.toMatchObject({
          name: 'AccessDeniedException',
          $metadata: { httpStatusCode: 403 },
          message: expect.stringContaining(`is not authorized to perform: lambda:InvokeFunction on resource: ${ARN}`),
        });
      } finally {
        tool.destroy();
        model.destroy();
        await engine.close();
      }
    }, 60_000);
  });
});
