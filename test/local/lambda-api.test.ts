import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { LocalIam } from '../../local/iam/check';
import { accessKeyIdOf, iamModelOf } from '../../local/iam/roles';
import { functionArnOf, type LocalLambdaApi, MAX_INVOKE_PAYLOAD_BYTES, standInFor, startLambdaApi } from '../../local/lambda-api';
import type { CfnTemplate } from '../../local/template';

const ORDERS = 'arn:aws:lambda:eu-west-1:123456789012:function:orders';
const BROKEN = 'arn:aws:lambda:eu-west-1:123456789012:function:broken';
const GHOST = 'arn:aws:lambda:eu-west-1:123456789012:function:ghost';

/** One caller whose role may invoke `orders`, `broken` and `ghost` (exact ARNs, as the stack grants lambda tools). */
const template: CfnTemplate = {
  Resources: {
    Caller: { Type: 'AWS::Lambda::Function', Properties: { Role: { 'Fn::GetAtt': ['CallerRole', 'Arn'] } } },
    CallerRole: { Type: 'AWS::IAM::Role', Properties: {} },
    CallerPolicy: {
      Type: 'AWS::IAM::Policy',
      Properties: { Roles: [{ Ref: 'CallerRole' }], PolicyDocument: { Statement: [{ Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: [ORDERS, BROKEN, GHOST] }] } },
    },
  },
};

const utf8 = (bytes: Uint8Array | undefined) => new TextDecoder().decode(bytes);
const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

describe('functionArnOf', () => {
  it('reads a name, a partial or a full ARN, and a qualifier', () => {
    expect(functionArnOf('orders')).toBe('arn:aws:lambda:local:000000000000:function:orders');
    expect(functionArnOf('123456789012:function:orders')).toBe('arn:aws:lambda:local:123456789012:function:orders');
    expect(functionArnOf(ORDERS, '7')).toBe(`${ORDERS}:7`);
    expect(functionArnOf(`${ORDERS}:live`, '7')).toBe(`${ORDERS}:live`);
  });
});

describe('standInFor', () => {
  it('finds the function unqualified or as $LATEST, a version or alias only when named exactly', () => {
    const named = new Map([
      [ORDERS, 'a#x'],
      [`${BROKEN}:live`, 'b#y'],
    ]);
    expect(standInFor(named, ORDERS)).toBe('a#x');
    expect(standInFor(named, `${ORDERS}:$LATEST`)).toBe('a#x');
    expect(standInFor(named, `${ORDERS}:1`)).toBeUndefined();
    expect(standInFor(named, `${BROKEN}:live`)).toBe('b#y');
    expect(standInFor(named, BROKEN)).toBe('b#y');
    expect(standInFor(named, `${BROKEN}:prod`)).toBeUndefined();
    expect(standInFor(named, GHOST)).toBeUndefined();
  });
});

describe('the local Lambda Invoke API (REST, through the SDK)', () => {
  const iam = new LocalIam(iamModelOf(template));
  const standIns = new Map([
    [ORDERS, 'test/fixtures/lambda/orders.ts#lookup'],
    [BROKEN, 'test/fixtures/lambda/orders.ts#nope'],
    [`${ORDERS}:7`, 'test/fixtures/lambda/orders.ts#lookup'],
  ]);
  let api: LocalLambdaApi;
  const clients: LambdaClient[] = [];
  const client = (accessKeyId: string) => {
    const c = new LambdaClient({ endpoint: api.url, region: 'eu-west-1', maxAttempts: 1, credentials: { accessKeyId, secretAccessKey: 'x' } });
    clients.push(c);
    return c;
  };
  beforeAll(async () => {
    api = await startLambdaApi(() => standIns, iam, { timeoutSeconds: 0.3 });
  });
  afterAll(async () => {
    for (const c of clients) c.destroy();
    await api.close();
  });

  it('runs the stand-in with the event and the client context, and answers as Lambda does', async () => {
    const out = await client(accessKeyIdOf('Caller')).send(
      new InvokeCommand({
        FunctionName: ORDERS,
        Payload: json({ id: 'A-1' }),
        ClientContext: Buffer.from(JSON.stringify({ custom: { idempotencyKey: 'k-1' } })).toString('base64'),
      }),
    );
    expect(out).toMatchObject({ StatusCode: 200, ExecutedVersion: '$LATEST' });
    expect(out.FunctionError).toBeUndefined();
    expect(JSON.parse(utf8(out.Payload))).toEqual({ order: 'A-1', status: 'shipped', about: null, idempotencyKey: 'k-1' });
  });

  it('a thrown error is an Unhandled function error with its type, message and trace; past the timeout Sandbox.Timedout', async () => {
    const caller = client(accessKeyIdOf('Caller'));
    const failed = await caller.send(new InvokeCommand({ FunctionName: ORDERS, Payload: json({ id: 'boom' }) }));
    expect(failed).toMatchObject({ StatusCode: 200, FunctionError: 'Unhandled' });
    expect(JSON.parse(utf8(failed.Payload))).toMatchObject({ errorType: 'RangeError', errorMessage: 'order boom does not exist', trace: expect.any(Array) });
    const slow = await caller.send(new InvokeCommand({ FunctionName: ORDERS, Payload: json({ id: 'slow' }) }));
    expect(slow).toMatchObject({ StatusCode: 200, FunctionError: 'Unhandled' });
    expect(JSON.parse(utf8(slow.Payload))).toMatchObject({ errorType: 'Sandbox.Timedout', errorMessage: expect.stringContaining('Task timed out after 0.30 seconds') });
    const broken = await caller.send(new InvokeCommand({ FunctionName: BROKEN, Payload: json({}) }));
    expect(broken.FunctionError).toBe('Unhandled');
    expect(JSON.parse(utf8(broken.Payload))).toMatchObject({ errorType: 'Runtime.HandlerNotFound', errorMessage: expect.stringContaining('exports no function "nope"') });
  });

  it('checks lambda:InvokeFunction on the ARN as invoked: another ARN, or a qualified one the exact grant does not cover, is AccessDenied (403)', async () => {
    const caller = client(accessKeyIdOf('Caller'));
    const other = 'arn:aws:lambda:eu-west-1:123456789012:function:other';
    await expect(caller.send(new InvokeCommand({ FunctionName: other, Payload: json({}) }))).rejects.toMatchObject({
      name: 'AccessDeniedException',
      $metadata: { httpStatusCode: 403 },
      message: `User: arn:aws:sts::000000000000:assumed-role/CallerRole/Caller is not authorized to perform: lambda:InvokeFunction on resource: ${other} because no identity-based policy allows the lambda:InvokeFunction action`,
    });
    await expect(caller.send(new InvokeCommand({ FunctionName: ORDERS, Qualifier: '3', Payload: json({}) }))).rejects.toMatchObject({
      name: 'AccessDeniedException',
      message: expect.stringContaining(`on resource: ${ORDERS}:3 `),
    });
    await expect(client('nobody').send(new InvokeCommand({ FunctionName: ORDERS, Payload: json({}) }))).rejects.toMatchObject({ name: 'UnrecognizedClientException' });
    // The administrator may invoke a version that exists (one a lambda tool names): it runs the stand-in and reports
    // the version; `$LATEST` is the function itself; a version or alias that does not exist is ResourceNotFound.
    const admin = client('test');
    await expect(admin.send(new InvokeCommand({ FunctionName: ORDERS, Qualifier: '7', Payload: json({ id: 'v' }) }))).resolves.toMatchObject({
      StatusCode: 200,
      ExecutedVersion: '7',
    });
    await expect(admin.send(new InvokeCommand({ FunctionName: `${ORDERS}:$LATEST`, Payload: json({ id: 'v' }) }))).resolves.toMatchObject({
      StatusCode: 200,
      ExecutedVersion: '$LATEST',
    });
    for (const qualifier of ['3', 'live']) {
      await expect(admin.send(new InvokeCommand({ FunctionName: ORDERS, Qualifier: qualifier, Payload: json({}) }))).rejects.toMatchObject({
        name: 'ResourceNotFoundException',
        $metadata: { httpStatusCode: 404 },
        message: expect.stringContaining(`Function not found: ${ORDERS}:${qualifier}`),
      });
    }
  });

  it('a granted function with no stand-in is ResourceNotFound; DryRun and Event invocations; a bad or too large payload', async () => {
    const caller = client(accessKeyIdOf('Caller'));
    await expect(caller.send(new InvokeCommand({ FunctionName: GHOST, Payload: json({}) }))).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
      $metadata: { httpStatusCode: 404 },
    });
    await expect(caller.send(new InvokeCommand({ FunctionName: ORDERS, InvocationType: 'DryRun' }))).resolves.toMatchObject({ StatusCode: 204 });
    await expect(caller.send(new InvokeCommand({ FunctionName: ORDERS, InvocationType: 'Event', Payload: json({ id: 'e' }) }))).resolves.toMatchObject({ StatusCode: 202 });
    await expect(caller.send(new InvokeCommand({ FunctionName: ORDERS, Payload: new TextEncoder().encode('{not json') }))).rejects.toMatchObject({
      name: 'InvalidRequestContentException',
      $metadata: { httpStatusCode: 400 },
    });
    const big = json({ blob: 'x'.repeat(MAX_INVOKE_PAYLOAD_BYTES) });
    await expect(caller.send(new InvokeCommand({ FunctionName: ORDERS, Payload: big }))).rejects.toMatchObject({
      name: 'RequestTooLargeException',
      $metadata: { httpStatusCode: 413 },
    });
  });
});
