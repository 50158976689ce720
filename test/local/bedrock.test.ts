import { connect as http2Connect } from 'node:http2';
import { connect } from 'node:net';
import { Duplex } from 'node:stream';
import { BedrockRuntimeClient, ConverseCommand } from '@aws-sdk/client-bedrock-runtime';
import { createBedrockProvider, toBedrockMessages, toBedrockTools } from '../../lambdas/providers/bedrock';
import { bedrockChecks, bedrockDepsOf, fromConverseRequest, regionOfRequest, startBedrockRuntime, toConverseResponse } from '../../local/bedrock';
import { LocalIam } from '../../local/iam/check';
import { asCaller } from '../../local/iam/clients';
import { accessKeyIdOf, iamModelOf } from '../../local/iam/roles';
import type { CfnTemplate } from '../../local/template';
import { type FakeProvider, startFakeBedrock } from '../../testing/fake-providers';
import { rejection } from '../helpers/async';

const HAIKU = 'anthropic.claude-3-haiku-20240307-v1:0';
const PROFILE = `us.${HAIKU}`;

/** Two functions: CallModel may invoke Haiku (in `local` and us-east-1) and the US profile; Other may invoke nothing. */
const template: CfnTemplate = {
  Resources: {
    ModelRole: { Type: 'AWS::IAM::Role' },
    OtherRole: { Type: 'AWS::IAM::Role' },
    ModelPolicy: {
      Type: 'AWS::IAM::Policy',
      Properties: {
        Roles: [{ Ref: 'ModelRole' }],
        PolicyDocument: {
          Statement: [
            {
              Effect: 'Allow',
              Action: 'bedrock:InvokeModel',
              Resource: [
                `arn:aws:bedrock:local::foundation-model/${HAIKU}`,
                `arn:aws:bedrock:us-east-1::foundation-model/${HAIKU}`,
                `arn:aws:bedrock:local:000000000000:inference-profile/${PROFILE}`,
                'arn:aws:bedrock:*::foundation-model/scripted-*',
              ],
            },
          ],
        },
      },
    },
    CallModel: { Type: 'AWS::Lambda::Function', Properties: { Role: { 'Fn::GetAtt': ['ModelRole', 'Arn'] } } },
    Other: { Type: 'AWS::Lambda::Function', Properties: { Role: { 'Fn::GetAtt': ['OtherRole', 'Arn'] } } },
  },
};

describe('Bedrock Runtime offline: the resources AWS authorizes a Converse on', () => {
  it('a foundation model on its ARN in the request region; a system inference profile on the profile and its model', () => {
    expect(bedrockChecks(HAIKU, 'us-east-1')).toEqual([`arn:aws:bedrock:us-east-1::foundation-model/${HAIKU}`]);
    expect(bedrockChecks(PROFILE, 'us-east-1')).toEqual([
      `arn:aws:bedrock:us-east-1:000000000000:inference-profile/${PROFILE}`,
      `arn:aws:bedrock:us-east-1::foundation-model/${HAIKU}`,
    ]);
    expect(bedrockChecks(`arn:aws:bedrock:eu-west-1:111111111111:inference-profile/eu.${HAIKU}`, 'x')).toEqual([
      `arn:aws:bedrock:eu-west-1:111111111111:inference-profile/eu.${HAIKU}`,
      `arn:aws:bedrock:eu-west-1::foundation-model/${HAIKU}`,
    ]);
    expect(bedrockChecks('arn:aws:bedrock:us-east-1:111111111111:provisioned-model/abc', 'x')).toEqual(['arn:aws:bedrock:us-east-1:111111111111:provisioned-model/abc']);
    expect(regionOfRequest('AWS4-HMAC-SHA256 Credential=AKID/20261207/eu-west-1/bedrock/aws4_request, SignedHeaders=host')).toBe('eu-west-1');
    expect(regionOfRequest(undefined)).toBe('local');
  });

  it("reads a Converse request as the provider writes it, and answers in Converse's shape", () => {
    const messages = [
      { role: 'user' as const, content: 'What is 2+2?' },
      { role: 'assistant' as const, content: '', toolCalls: [{ id: 'c1', name: 'calculator', arguments: { expression: '2+2' } }] },
      { role: 'tool' as const, toolCallId: 'c1', name: 'calculator', content: '4' },
    ];
    const tools = [{ name: 'calculator', description: 'Arithmetic.', parameters: { type: 'object' } }];
    const body = JSON.parse(
      JSON.stringify({ messages: toBedrockMessages(messages), system: [{ text: 'Be brief.' }], inferenceConfig: { maxTokens: 100 }, toolConfig: { tools: toBedrockTools(tools) } }),
    );
    expect(fromConverseRequest(body)).toEqual({
      system: 'Be brief.',
      messages: messages.map((m) => (m.role === 'tool' ? { ...m, isError: false } : m)),
      tools,
      maxOutputTokens: 100,
    });
    expect(
      toConverseResponse({ text: 'x', toolCalls: [{ id: 't', name: 'n', arguments: { a: 1 } }], usage: { inputTokens: 3, outputTokens: 2 }, finishReason: 'tool_use', model: 'm' }),
    ).toEqual({
      output: { message: { role: 'assistant', content: [{ text: 'x' }, { toolUse: { toolUseId: 't', name: 'n', input: { a: 1 } } }] } },
      stopReason: 'tool_use',
      usage: { inputTokens: 3, outputTokens: 2, totalTokens: 5 },
      metrics: { latencyMs: 1 },
    });
  });
});

describe('Bedrock Runtime offline: Converse on its REST protocol, IAM-checked, through the real SDK', () => {
  let fake: FakeProvider;
  let iam: LocalIam;
  let endpoint: Awaited<ReturnType<typeof startBedrockRuntime>>;
  const client = (fn: string, region = 'local') =>
    new BedrockRuntimeClient({ endpoint: endpoint.url, region, maxAttempts: 1, credentials: { accessKeyId: accessKeyIdOf(fn), secretAccessKey: 'x' } });
  const converse = (modelId: string, text = 'What is 2+2?') =>
    new ConverseCommand({ modelId, messages: [{ role: 'user', content: [{ text }] }], inferenceConfig: { maxTokens: 50 } });

  beforeAll(async () => {
    fake = await startFakeBedrock();
    iam = new LocalIam(iamModelOf(template));
    endpoint = await startBedrockRuntime(iam, { upstreamFor: (id) => (id.startsWith('scripted-') ? fake.url : undefined), contextTokens: 1000 });
  });
  afterAll(async () => {
    await endpoint.close();
    await fake.close();
  });
  beforeEach(() => fake.reset());

  it('answers a granted role from the demo model (by model id and by inference profile)', async () => {
    const model = client('CallModel');
    try {
      const out = await model.send(converse(HAIKU, 'What is 17 * 23?'));
      expect(out.$metadata.httpStatusCode).toBe(200);
      expect(out.stopReason).toBe('end_turn');
      expect(out.output?.message?.content?.[0]?.text).toBeTruthy();
      expect(out.usage?.inputTokens).toBeGreaterThan(0);
      await expect(model.send(converse(PROFILE))).resolves.toMatchObject({ $metadata: { httpStatusCode: 200 } });
      expect(iam.used.get('ModelRole')).toEqual(new Set(['bedrock:InvokeModel']));
    } finally {
      model.destroy();
    }
  });

  it("answers AccessDeniedException (403, AWS's message) to a role without the grant, to another model, to another region", async () => {
    const [other, model, east, west] = [client('Other'), client('CallModel'), client('CallModel', 'us-east-1'), client('CallModel', 'eu-west-1')];
    try {
      await expect(other.send(converse(HAIKU))).rejects.toMatchObject({
        name: 'AccessDeniedException',
        $metadata: { httpStatusCode: 403 },
        message: `User: arn:aws:sts::000000000000:assumed-role/OtherRole/Other is not authorized to perform: bedrock:InvokeModel on resource: arn:aws:bedrock:local::foundation-model/${HAIKU} because no identity-based policy allows the bedrock:InvokeModel action`,
      });
      await expect(model.send(converse('amazon.nova-pro-v1:0'))).rejects.toMatchObject({ name: 'AccessDeniedException' });
      await expect(east.send(converse(HAIKU))).resolves.toBeDefined();
      await expect(west.send(converse(HAIKU))).rejects.toMatchObject({
        name: 'AccessDeniedException',
        message: expect.stringContaining('arn:aws:bedrock:eu-west-1::foundation-model/'),
      });
      const stranger = new BedrockRuntimeClient({ endpoint: endpoint.url, region: 'local', maxAttempts: 1, credentials: { accessKeyId: 'nobody', secretAccessKey: 'x' } });
      await expect(stranger.send(converse(HAIKU))).rejects.toMatchObject({ name: 'UnrecognizedClientException', $metadata: { httpStatusCode: 403 } });
      stranger.destroy();
    } finally {
      for (const c of [other, model, east, west]) c.destroy();
    }
    // A denied request never reaches the model.
    await expect(other.send(converse('scripted-1'))).rejects.toMatchObject({ name: 'AccessDeniedException' });
    expect(fake.requests).toHaveLength(0);
  });

  it('answers a forced output tool (structured output on Bedrock) through that tool, with a value of its schema from the demo', async () => {
    const provider = createBedrockProvider({ provider: 'bedrock', model: HAIKU, timeoutMs: 2000, maxOutputTokens: 200 }, bedrockDepsOf(endpoint.url));
    const schema = { type: 'object', properties: { result: { type: 'number' } }, required: ['result'], additionalProperties: false };
    const calculator = { name: 'calculator', description: 'Arithmetic.', parameters: { type: 'object', properties: { expression: { type: 'string' } } } };
    const messages = [
      { role: 'user' as const, content: 'What is 12.5% of 3480?' },
      { role: 'assistant' as const, content: '', toolCalls: [{ id: 'c1', name: 'calculator', arguments: { expression: '12.5% of 3480' } }] },
      { role: 'tool' as const, toolCallId: 'c1', name: 'calculator', content: '435' },
    ];
    const answer = await asCaller('CallModel', () => provider.complete({ messages, tools: [calculator], maxOutputTokens: 200, output: { schema, name: 'final_answer' } }));
    expect(answer.toolCalls).toEqual([]);
    expect(JSON.parse(answer.text)).toEqual({ result: 435 });
  });

  it('refuses a conversation that is empty or does not start with a user message: ValidationException, as Converse does', async () => {
    const model = client('CallModel');
    const message = 'A conversation must start with a user message. Try again with a conversation that starts with a user message.';
    try {
      await expect(model.send(new ConverseCommand({ modelId: HAIKU, messages: [] }))).rejects.toMatchObject({
        name: 'ValidationException',
        $metadata: { httpStatusCode: 400 },
        message,
      });
      const assistantFirst = new ConverseCommand({ modelId: 'scripted-1', messages: [{ role: 'assistant', content: [{ text: 'Hello.' }] }] });
      await expect(model.send(assistantFirst)).rejects.toMatchObject({ name: 'ValidationException', $metadata: { httpStatusCode: 400 }, message });
      expect(fake.requests).toHaveLength(0);
    } finally {
      model.destroy();
    }
  });

  it('refuses an input longer than the context window: ValidationException "Input is too long for requested model."', async () => {
    const model = client('CallModel');
    try {
      await expect(model.send(converse('scripted-1', 'word '.repeat(5000)))).rejects.toMatchObject({
        name: 'ValidationException',
        $metadata: { httpStatusCode: 400 },
        message: 'Input is too long for requested model.',
      });
      expect(fake.requests).toHaveLength(0);
    } finally {
      model.destroy();
    }
  });

  it.each([
    ['ThrottlingException', 429, 'RateLimited'],
    ['ValidationException', 400, 'BadRequest'],
    ['ModelTimeoutException', 408, 'TimeoutError'],
    ['ServiceUnavailableException', 503, 'TransientError'],
  ])("passes the model's %s (HTTP %i) through as Bedrock sends it; the provider maps it to %s", async (errorType, status, name) => {
    fake.script({ kind: 'status', status, errorType, body: { message: 'scripted' } });
    const provider = createBedrockProvider({ provider: 'bedrock', model: 'scripted-1', timeoutMs: 2000, maxOutputTokens: 50 }, bedrockDepsOf(endpoint.url));
    const err = await asCaller('CallModel', () => rejection(provider.complete({ messages: [{ role: 'user', content: 'hi' }], tools: [], maxOutputTokens: 50 })));
    expect(err.name).toBe(name);
    expect(err.message).toBe(`bedrock scripted-1: ${errorType} (HTTP ${status}): scripted`);
    expect(fake.requests).toHaveLength(1);
  });

  it('tells HTTP/1.1 from HTTP/2 even when the first bytes arrive apart ("P" starts both "POST" and the HTTP/2 preface)', async () => {
    const { port } = new URL(endpoint.url);
    const body = JSON.stringify({ messages: [{ role: 'user', content: [{ text: 'hi' }] }] });
    const request = `OST /model/${encodeURIComponent(HAIKU)}/converse HTTP/1.1\r\nHost: x\r\nAuthorization: AWS4-HMAC-SHA256 Credential=test/20261207/local/bedrock/aws4_request\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`;
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1', () => {
        socket.write('P');
        setImmediate(() => socket.write(request));
      });
      let text = '';
      socket.on('data', (d) => {
        text += d.toString();
      });
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(answer).toContain('"stopReason":"end_turn"');
    // HTTP/2 whose connection preface arrives in two pieces.
    const status = await new Promise<number>((resolve, reject) => {
      const session = http2Connect(endpoint.url, {
        // A stream of our own (HTTP/2 writes a net socket natively): its first write, the preface, goes out in two.
        createConnection: () => {
          const socket = connect(Number(port), '127.0.0.1');
          let first = true;
          const stream = new Duplex({
            read: () => socket.resume(),
            write: (data: Buffer, _encoding, done) => {
              if (!first) return void socket.write(data, done);
              first = false;
              socket.write(data.subarray(0, 5));
              setTimeout(() => socket.write(data.subarray(5), done), 20);
            },
            destroy: (err, done) => {
              socket.destroy();
              done(err);
            },
          });
          socket.on('data', (d: Buffer) => {
            if (!stream.push(d)) socket.pause();
          });
          socket.on('end', () => stream.push(null));
          return stream;
        },
      });
      session.on('error', reject);
      const req = session.request({
        ':method': 'POST',
        ':path': `/model/${encodeURIComponent(HAIKU)}/converse`,
        authorization: 'AWS4-HMAC-SHA256 Credential=test/20261207/local/bedrock/aws4_request',
        'content-type': 'application/json',
      });
      req.on('response', (headers) => {
        resolve(Number(headers[':status']));
        session.close();
      });
      req.on('error', reject);
      req.end(body);
    });
    expect(status).toBe(200);
  });

  it('signs each request as the function that is running (bedrockDepsOf), and as the administrator outside any', async () => {
    const provider = createBedrockProvider({ provider: 'bedrock', model: HAIKU, timeoutMs: 2000, maxOutputTokens: 50 }, bedrockDepsOf(endpoint.url));
    const req = { messages: [{ role: 'user' as const, content: 'hi' }], tools: [], maxOutputTokens: 50 };
    await expect(asCaller('CallModel', () => provider.complete(req))).resolves.toMatchObject({ text: expect.any(String) });
    await expect(asCaller('Other', () => rejection(provider.complete(req)))).resolves.toMatchObject({
      name: 'BadRequest',
      message: expect.stringContaining('AccessDeniedException (HTTP 403): User: arn:aws:sts::000000000000:assumed-role/OtherRole/Other'),
    });
    await expect(provider.complete(req)).resolves.toBeDefined();
  });
});
