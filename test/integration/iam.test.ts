import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { DescribeExecutionCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { causeMessage } from '../../lambdas/core/errors';
import { parseConfig } from '../../lib/config';
import type { PolicyStatement } from '../../local/iam/policy';
import { accessKeyIdOf } from '../../local/iam/roles';
import { type CfnTemplate, functionsOf } from '../../local/template';
import { templateFor, testEngine } from '../helpers/engine';

const config = parseConfig({});

/** A copy of the template with every statement whose actions match `drop` removed from its IAM policies. */
function withoutGrants(template: CfnTemplate, drop: (action: string) => boolean): CfnTemplate {
  const copy = JSON.parse(JSON.stringify(template)) as CfnTemplate;
  for (const r of Object.values(copy.Resources)) {
    if (r.Type !== 'AWS::IAM::Policy') continue;
    const doc = r.Properties?.PolicyDocument as { Statement: PolicyStatement[] };
    doc.Statement = doc.Statement.filter((s) => ![s.Action ?? []].flat().some(drop));
  }
  return copy;
}

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
      expect(causeMessage(error?.message)).toMatch(/^User: arn:aws:sts::000000000000:assumed-role\/\w+\/\w+ is not authorized to perform: dynamodb:\w+ on resource: arn:aws:dynamodb:local:000000000000:table\/\w+ because no identity-based policy allows the dynamodb:\w+ action$/);
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
    const client = new DynamoDBClient({ endpoint: engine.dynamoFront.url, region: 'local', maxAttempts: 1, credentials: { accessKeyId: accessKeyIdOf(fn.logicalId), secretAccessKey: 'x' } });
    try {
      const put = new PutItemCommand({ TableName: table, Item: { pk: { S: 'p' }, sk: { S: 's' } } });
      await expect(client.send(put)).rejects.toMatchObject({
        name: 'AccessDeniedException',
        $metadata: { httpStatusCode: 400 },
        message: expect.stringContaining(`is not authorized to perform: dynamodb:PutItem on resource: arn:aws:dynamodb:local:000000000000:table/${table} because no identity-based policy allows the dynamodb:PutItem action`),
      });
      const raw = await fetch(engine.dynamoFront.url, {
        method: 'POST',
        headers: { 'x-amz-target': 'DynamoDB_20120810.PutItem', 'content-type': 'application/x-amz-json-1.0', authorization: `AWS4-HMAC-SHA256 Credential=${accessKeyIdOf(fn.logicalId)}/20260101/local/dynamodb/aws4_request, SignedHeaders=host, Signature=0` },
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
      expect(error?.message).toMatch(/is not authorized to perform: lambda:InvokeFunction on resource: arn:aws:lambda:local:000000000000:function:\w+(:\w+)? .*AccessDeniedException/);
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
      await expect(sfn.send(new DescribeExecutionCommand({ executionArn: `arn:aws:states:local:000000000000:execution:${engine.stateMachineName}:none` }))).rejects.toMatchObject({ name: 'ExecutionDoesNotExist' });
    } finally {
      sfn.destroy();
      await engine.close();
    }
  }, 60_000);
});

