/**
 * Fake model provider servers on 127.0.0.1 (real HTTP, port 0), one per wire protocol: OpenAI Chat Completions
 * (POST /v1/chat/completions), Anthropic Messages (POST /v1/messages), Bedrock Converse
 * (POST /model/{id}/converse). Each records every request and plays a script: a queue of replies, each a normal
 * answer (text, or tool calls) or a fault; when the queue is empty it plays the default reply.
 */
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Protocol = 'openai' | 'anthropic' | 'bedrock';

export type Reply =
  | { kind: 'text'; text: string; usage?: { input: number; output: number } }
  | { kind: 'tools'; calls: { name: string; args: unknown }[]; text?: string; usage?: { input: number; output: number } }
  /** Tool arguments that are not JSON (openai only: the others send objects). */
  | { kind: 'bad-args'; name: string; raw: string }
  | { kind: 'status'; status: number; body?: unknown; headers?: Record<string, string> }
  | { kind: 'quota' }
  | { kind: 'refusal' }
  /** Never answers (until the server closes). */
  | { kind: 'hang' }
  /** A 200 whose JSON body is cut short. */
  | { kind: 'truncated' };

export interface RecordedRequest {
  path: string;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
}

export interface FakeProvider {
  protocol: Protocol;
  /** The `baseUrl` to put in the model config. */
  baseUrl: string;
  requests: RecordedRequest[];
  script(...replies: Reply[]): void;
  setDefault(reply: Reply): void;
  /** Answers from the request body when the queue is empty (a deterministic model), instead of the default reply. */
  respondWith(fn: ((body: Record<string, unknown>) => Reply) | undefined): void;
  /** Drops the scripted replies not played yet and the recorded requests. */
  reset(): void;
  close(): Promise<void>;
}

let callIds = 0;

function encode(protocol: Protocol, reply: Reply, request: Record<string, unknown>): { status: number; body: unknown; headers?: Record<string, string> } {
  const scripted = ('usage' in reply && reply.usage) || { input: 50, output: 10 };
  // Like a real provider, never more output tokens than the request allowed.
  const cap = Number(request.max_tokens ?? (request.inferenceConfig as { maxTokens?: number } | undefined)?.maxTokens ?? Number.POSITIVE_INFINITY);
  const usage = { input: scripted.input, output: Math.min(scripted.output, cap) };
  if (reply.kind === 'status') {
    // Bedrock names its errors in a header (the SDK maps it to the exception's name).
    const bedrockType: Record<number, string> = { 400: 'ValidationException', 403: 'AccessDeniedException', 429: 'ThrottlingException', 500: 'InternalServerException', 503: 'ServiceUnavailableException' };
    const typeHeader: Record<string, string> = protocol === 'bedrock' && bedrockType[reply.status] ? { 'x-amzn-errortype': bedrockType[reply.status] as string } : {};
    return { status: reply.status, body: reply.body ?? { message: `scripted ${reply.status}` }, headers: { ...typeHeader, ...reply.headers } };
  }
  if (reply.kind === 'quota') {
    return protocol === 'bedrock'
      ? { status: 400, body: { message: 'quota' }, headers: { 'x-amzn-errortype': 'ValidationException' } }
      : { status: 429, body: { error: { type: 'insufficient_quota', code: 'insufficient_quota', message: 'You exceeded your current quota' } } };
  }
  const calls = reply.kind === 'tools' ? reply.calls.map((c) => ({ id: `call_${++callIds}`, ...c })) : [];
  const text = reply.kind === 'text' ? reply.text : reply.kind === 'tools' ? (reply.text ?? '') : '';
  switch (protocol) {
    case 'openai': {
      if (reply.kind === 'refusal') return { status: 200, body: { choices: [{ finish_reason: 'stop', message: { role: 'assistant', content: null, refusal: 'I cannot help with that.' } }] } };
      const toolCalls =
        reply.kind === 'bad-args'
          ? [{ id: `call_${++callIds}`, type: 'function', function: { name: reply.name, arguments: reply.raw } }]
          : calls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: JSON.stringify(c.args) } }));
      return {
        status: 200,
        body: {
          model: 'fake',
          choices: [{ finish_reason: toolCalls.length ? 'tool_calls' : 'stop', message: { role: 'assistant', content: text || null, ...(toolCalls.length ? { tool_calls: toolCalls } : {}) } }],
          usage: { prompt_tokens: usage.input, completion_tokens: usage.output },
        },
      };
    }
    case 'anthropic': {
      if (reply.kind === 'refusal') return { status: 200, body: { content: [], stop_reason: 'refusal', usage: { input_tokens: 5, output_tokens: 0 } } };
      const content = [...(text ? [{ type: 'text', text }] : []), ...calls.map((c) => ({ type: 'tool_use', id: c.id, name: c.name, input: c.args }))];
      return { status: 200, body: { model: 'fake', content, stop_reason: calls.length ? 'tool_use' : 'end_turn', usage: { input_tokens: usage.input, output_tokens: usage.output } } };
    }
    case 'bedrock': {
      if (reply.kind === 'refusal') return { status: 200, body: { output: { message: { role: 'assistant', content: [] } }, stopReason: 'guardrail_intervened', usage: { inputTokens: 5, outputTokens: 0, totalTokens: 5 } } };
      const content = [...(text ? [{ text }] : []), ...calls.map((c) => ({ toolUse: { toolUseId: c.id, name: c.name, input: c.args } }))];
      return {
        status: 200,
        body: { output: { message: { role: 'assistant', content } }, stopReason: calls.length ? 'tool_use' : 'end_turn', usage: { inputTokens: usage.input, outputTokens: usage.output, totalTokens: usage.input + usage.output }, metrics: { latencyMs: 1 } },
      };
    }
  }
}

export async function startFakeProvider(protocol: Protocol): Promise<FakeProvider> {
  const queue: Reply[] = [];
  let fallback: Reply = { kind: 'text', text: 'done' };
  let responder: ((body: Record<string, unknown>) => Reply) | undefined;
  const requests: RecordedRequest[] = [];
  const hanging = new Set<ServerResponse>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
      } catch {
        /* recorded as empty */
      }
      requests.push({ path: req.url ?? '/', headers: req.headers, body });
      const reply = queue.shift() ?? responder?.(body) ?? fallback;
      if (reply.kind === 'hang') {
        hanging.add(res);
        return;
      }
      if (reply.kind === 'truncated') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"choices": [{"message": {"content": "cut sh');
        return;
      }
      const { status, body: out, headers } = encode(protocol, reply, body);
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(out));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const root = `http://127.0.0.1:${port}`;
  return {
    protocol,
    baseUrl: protocol === 'openai' ? `${root}/v1` : root,
    requests,
    script: (...replies) => queue.push(...replies),
    setDefault: (reply) => {
      fallback = reply;
    },
    respondWith: (fn) => {
      responder = fn;
    },
    reset: () => {
      queue.length = 0;
      requests.length = 0;
    },
    close: async () => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
