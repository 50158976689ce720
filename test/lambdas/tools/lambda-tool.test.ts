import { LambdaClient } from '@aws-sdk/client-lambda';
import { BadRequest, CircuitOpen, RateLimited, TimeoutError, TransientError } from '../../../lambdas/core/errors';
import type { Guard } from '../../../lambdas/tools/http-tool';
import { classifyLambdaError, createLambdaTool, type LambdaToolConfig, sdkInvoker } from '../../../lambdas/tools/lambda-tool';
import { createToolCatalog } from '../../../lambdas/tools/registry';
import { parseConfig } from '../../../lib/config';
import { type Loopback, reply, startLoopback } from '../../../testing/loopback';
import { rejection } from '../../helpers/async';

const ARN = 'arn:aws:lambda:eu-west-1:123456789012:function:orders';
const ctx = { runId: 'run-1', step: 2, toolCallId: 'call_1', idempotencyKey: 'key-run-1-2-call_1' };

function lambdaConfig(extra: Record<string, unknown> = {}): LambdaToolConfig {
  const [tool] = parseConfig({ tools: [{ name: 'orders', kind: 'lambda', functionArn: ARN, description: 'Looks up an order.', ...extra }] }).tools;
  if (tool?.kind !== 'lambda') throw new Error('unreachable');
  return tool;
}

describe('lambda tools through the AWS SDK (a Lambda Invoke endpoint on loopback)', () => {
  let lambda: Loopback;
  const path = `/2015-03-31/functions/${encodeURIComponent(ARN)}/invocations`;
  const tool = (extra: Record<string, unknown> = {}) =>
    createLambdaTool(lambdaConfig(extra), {
      invoker: sdkInvoker({
        clientFor: (region) => new LambdaClient({ region, endpoint: lambda.url(''), maxAttempts: 1, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } }),
      }),
    });
  beforeAll(async () => {
    lambda = await startLoopback();
  });
  afterAll(async () => lambda.close());

  it('invokes the function with the arguments as its event and the idempotency key in the client context', async () => {
    lambda.on(path, reply(200, { order: 'A-1', status: 'shipped' }));
    const result = await tool().run({ id: 'A-1' }, ctx);
    expect(result).toEqual({ content: '{"order":"A-1","status":"shipped"}', data: { functionArn: ARN }, source: `lambda:${ARN}` });
    const req = lambda.requests.at(-1);
    expect(req?.method).toBe('POST');
    expect(JSON.parse(req?.body ?? '')).toEqual({ id: 'A-1' });
    expect(req?.headers['x-amz-invocation-type']).toBe('RequestResponse');
    const clientContext = JSON.parse(Buffer.from(String(req?.headers['x-amz-client-context']), 'base64').toString('utf8'));
    expect(clientContext).toEqual({ custom: { idempotencyKey: 'key-run-1-2-call_1', runId: 'run-1', toolCallId: 'call_1' } });
  });

  it('a function error is a result the model reads, not a retry', async () => {
    lambda.on(path, reply(200, { errorType: 'RangeError', errorMessage: 'order B-2 does not exist' }, { 'x-amz-function-error': 'Unhandled' }));
    const result = await tool().run({ id: 'B-2' }, ctx);
    expect(result).toMatchObject({ isError: true, content: 'orders failed (Unhandled): RangeError: order B-2 does not exist', data: { error: 'FunctionError' } });
  });

  it('throttles are RateLimited and service errors transient (thrown for the state machine to retry)', async () => {
    lambda.on(
      path,
      reply(429, { Type: 'User', message: 'Rate exceeded', Reason: 'ReservedFunctionConcurrentInvocationLimitExceeded' }, { 'x-amzn-errortype': 'TooManyRequestsException' }),
    );
    expect(await rejection(tool().run({ id: 'C' }, ctx))).toBeInstanceOf(RateLimited);
    lambda.on(path, reply(500, { Type: 'Service', message: 'internal' }, { 'x-amzn-errortype': 'ServiceException' }));
    expect(await rejection(tool().run({ id: 'C' }, ctx))).toBeInstanceOf(TransientError);
  });

  it('a missing function or a denied invoke is an error result', async () => {
    lambda.on(path, reply(404, { Type: 'User', message: `Function not found: ${ARN}` }, { 'x-amzn-errortype': 'ResourceNotFoundException' }));
    const result = await tool().run({ id: 'D' }, ctx);
    expect(result).toMatchObject({ isError: true, data: { error: 'BadRequest' } });
    expect(result.content).toContain('ResourceNotFoundException');
  });

  it('a slow function past timeoutMs is a TimeoutError', async () => {
    lambda.on(path, () => undefined); // never answers
    const started = Date.now();
    expect(await rejection(tool({ timeoutMs: 200 }).run({ id: 'E' }, ctx))).toBeInstanceOf(TimeoutError);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('goes through the breaker of the tool, and reports an open breaker as degraded', async () => {
    const seen: string[] = [];
    const guard: Guard = (dependency) => {
      seen.push(dependency);
      return Promise.reject(new CircuitOpen(`${dependency} is open`));
    };
    const before = lambda.requests.length;
    const result = await createLambdaTool(lambdaConfig(), { invoker: sdkInvoker(), guard }).run({ id: 'F' }, ctx);
    expect(seen).toEqual(['tool:orders']);
    expect(result).toMatchObject({ isError: true, degraded: { dependency: 'tool:orders', reason: 'CircuitOpen', fallback: 'none' } });
    expect(lambda.requests.length).toBe(before);
  });

  it('the registry invokes with the client lambdaClientFor gives (the local engine binds it to its Lambda API), or an injected invoker', async () => {
    lambda.on(path, reply(200, '"from the endpoint"', { 'content-type': 'application/json' }));
    const tools = parseConfig({ tools: [{ name: 'orders', kind: 'lambda', functionArn: ARN, localHandler: 'test/fixtures/lambda/orders.ts#lookup' }] }).tools;
    const regions: string[] = [];
    const viaSdk = createToolCatalog(tools, {
      lambdaClientFor: (region) => {
        regions.push(region);
        return new LambdaClient({ region, endpoint: lambda.url(''), maxAttempts: 1, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
      },
    });
    const before = lambda.requests.length;
    expect((await viaSdk.run({ name: 'orders', arguments: { id: 'Q' } }, ctx)).content).toBe('from the endpoint');
    expect(lambda.requests.length).toBe(before + 1);
    expect(regions).toEqual(['eu-west-1']);
    const calls: string[] = [];
    const injected = createToolCatalog(tools, {
      lambdaInvoker: async (request) => {
        calls.push(request.functionArn);
        return { payload: '"injected"' };
      },
    });
    expect((await injected.run({ name: 'orders', arguments: { id: 'Q' } }, ctx)).content).toBe('injected');
    expect(calls).toEqual([ARN]);
  });

  it('arguments that are not an object are an error result, no invoke', async () => {
    const before = lambda.requests.length;
    expect(await tool().run('x', ctx)).toMatchObject({ isError: true, data: { error: 'BadRequest' } });
    expect(lambda.requests.length).toBe(before);
  });
});

describe('lambda tool config and errors', () => {
  it('accepts function ARNs (with a qualifier) and rejects anything else, naming the key', () => {
    expect(() => lambdaConfig({ functionArn: `${ARN}:live` })).not.toThrow();
    expect(() => lambdaConfig({ functionArn: 'orders' })).toThrow(/tools\[0\]\.functionArn: must be a Lambda function ARN/);
    expect(() => lambdaConfig({ localHandler: 'no-export.ts' })).toThrow(/tools\[0\]\.localHandler/);
  });

  it('classifies SDK failures', () => {
    const sdkError = (name: string, fault: 'client' | 'server', status: number) => Object.assign(new Error(name), { name, $fault: fault, $metadata: { httpStatusCode: status } });
    expect(classifyLambdaError(sdkError('TooManyRequestsException', 'client', 429), 'x')).toBeInstanceOf(RateLimited);
    expect(classifyLambdaError(sdkError('ServiceException', 'server', 500), 'x')).toBeInstanceOf(TransientError);
    expect(classifyLambdaError(sdkError('ResourceNotReadyException', 'server', 502), 'x')).toBeInstanceOf(TransientError);
    expect(classifyLambdaError(sdkError('AccessDeniedException', 'client', 403), 'x')).toBeInstanceOf(BadRequest);
    expect(classifyLambdaError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), 'x')).toBeInstanceOf(TransientError);
  });
});
