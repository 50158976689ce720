/**
 * Fake model provider servers for tests: real HTTP on 127.0.0.1 (port 0), one per wire protocol.
 *
 * | starter | protocol | config `baseUrl` = `fake.url` | endpoint |
 * |---|---|---|---|
 * | {@link startFakeOpenAI} | OpenAI Chat Completions | `http://127.0.0.1:<port>/v1` | `POST /v1/chat/completions` |
 * | {@link startFakeAnthropic} | Anthropic Messages | `http://127.0.0.1:<port>` | `POST /v1/messages` |
 * | {@link startFakeBedrock} | Bedrock Converse | `http://127.0.0.1:<port>` | `POST /model/{modelId}/converse` (SigV4 ignored) |
 *
 * Each server records every request in `requests` (path, headers, parsed JSON body; `requests.length` is the count)
 * and plays a script: `script(...replies)` queues replies, one per request; when the queue is empty it answers with
 * `respondWith(fn)` when set, else the default reply (`setDefault`, initially a text "done"). A reply is a normal
 * answer (`text`, or `tools` with given arguments) or a fault; {@link FAULTS} names the usual ones:
 *
 * ```ts
 * const fake = await startFakeOpenAI();
 * fake.script({ kind: 'tools', calls: [{ name: 'calculator', args: { expression: '2+2' } }] }, FAULTS.status500, { kind: 'text', text: '4' });
 * const config = { provider: 'openai', model: 'm', contextWindowTokens: 128_000, baseUrl: fake.url, timeoutMs: 200 };
 * // ... run the code under test ...
 * expect(fake.requests).toHaveLength(3);
 * await fake.close();
 * ```
 *
 * `setContextWindow(n)` makes the server answer a request over `n` tokens (its text counted with cl100k, plus its
 * output cap) with the service's own overflow error, as a real model does; `promptTokens` records every count.
 *
 * Faults are encoded the way each real service sends them: OpenAI `{error: {message, type, code}}`, Anthropic
 * `{type: "error", error: {type, message}}`, Bedrock `{message}` with the exception name in `x-amzn-errortype`.
 */
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { countTokens } from '../lambdas/core/tokens';

export type Protocol = 'openai' | 'anthropic' | 'bedrock';

/** Token usage a reply reports (default 50 in, 10 out; output is capped at the request's max tokens). */
export type FakeUsage = { input: number; output: number };

export type Reply =
  /** A final answer. */
  | { kind: 'text'; text: string; usage?: FakeUsage }
  /** Tool calls with the given arguments (ids are minted: call_1, call_2, …), optionally with some text. */
  | { kind: 'tools'; calls: { name: string; args: unknown }[]; text?: string; usage?: FakeUsage }
  /** One tool call whose arguments are not JSON (openai only: Anthropic and Bedrock send arguments as objects). */
  | { kind: 'bad-args'; name: string; raw: string }
  /**
   * An HTTP error. The body defaults to the protocol's error shape; for bedrock `errorType` (the exception name)
   * defaults by status: 400 ValidationException, 403 AccessDeniedException, 404 ResourceNotFoundException,
   * 408 ModelTimeoutException, 424 ModelErrorException, 429 ThrottlingException, 500 InternalServerException,
   * 503 ServiceUnavailableException.
   */
  | { kind: 'status'; status: number; body?: unknown; headers?: Record<string, string>; errorType?: string }
  /**
   * Out of credit: openai 429 `insufficient_quota`; anthropic 400 "credit balance is too low"; bedrock has no such
   * error and answers ServiceQuotaExceededException (a per-account rate quota).
   */
  | { kind: 'quota' }
  /**
   * A content refusal in a 200: openai `message.refusal` (or `finish_reason: "content_filter"` with
   * `reason: 'content_filter'`), anthropic `stop_reason: "refusal"`, bedrock `stopReason: "guardrail_intervened"`
   * (or `reason: 'content_filtered'`).
   */
  | { kind: 'refusal'; reason?: string }
  /** Never answers (until the server closes): longer than any client timeout. */
  | { kind: 'hang' }
  /** Answers `then` after `ms` (a slow but live provider). */
  | { kind: 'delay'; ms: number; then: Reply }
  /** A 200 whose JSON body is cut short. */
  | { kind: 'truncated' }
  /** Destroys the connection without an answer (the client sees a network error: socket hang up / ECONNRESET). */
  | { kind: 'reset' }
  /**
   * The prompt does not fit the model's context window, as each service says it: openai 400
   * `context_length_exceeded`, anthropic 400 "prompt is too long", bedrock ValidationException "Input is too long".
   */
  | { kind: 'overflow'; tokens?: number; window?: number };

/** Ready-made faults, by the name tests use for them. */
export const FAULTS = {
  status500: { kind: 'status', status: 500 },
  status503: { kind: 'status', status: 503 },
  /** Anthropic "overloaded". */
  status529: { kind: 'status', status: 529 },
  /** 429 with `Retry-After: 2`. */
  rateLimited: { kind: 'status', status: 429, headers: { 'retry-after': '2' } },
  quota: { kind: 'quota' },
  status400: { kind: 'status', status: 400 },
  status401: { kind: 'status', status: 401 },
  refusal: { kind: 'refusal' },
  hang: { kind: 'hang' },
  truncated: { kind: 'truncated' },
  reset: { kind: 'reset' },
  badArgs: { kind: 'bad-args', name: 'calculator', raw: '{"expression": "2+' },
  overflow: { kind: 'overflow' },
} as const satisfies Record<string, Reply>;

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** The parsed JSON body ({} when it was not JSON). */
  body: Record<string, unknown>;
}

export interface FakeProvider {
  protocol: Protocol;
  /** The `baseUrl` to put in the model config. */
  url: string;
  /** Same as `url` (older name). */
  baseUrl: string;
  /** Every request received, in order. */
  requests: RecordedRequest[];
  /** Queues replies, one per coming request. */
  script(...replies: Reply[]): void;
  /** The reply when the queue is empty (and no responder is set). */
  setDefault(reply: Reply): void;
  /** Answers from the request body when the queue is empty (a deterministic model), instead of the default reply. */
  respondWith(fn: ((body: Record<string, unknown>) => Reply) | undefined): void;
  /**
   * Enforces a context window (tokens, input + the request's output cap) as the real service does: a request that
   * does not fit gets the service's overflow answer instead of its reply. `undefined` turns it off.
   */
  setContextWindow(tokens: number | undefined): void;
  /** The prompt tokens (cl100k, counted over the wire format's text) of every request, in order. */
  promptTokens: number[];
  /** Drops the scripted replies not played yet and the recorded requests. */
  reset(): void;
  /** Stops the server, dropping hanging requests. */
  close(): Promise<void>;
}

const BEDROCK_EXCEPTIONS: Record<number, string> = {
  400: 'ValidationException',
  403: 'AccessDeniedException',
  404: 'ResourceNotFoundException',
  408: 'ModelTimeoutException',
  424: 'ModelErrorException',
  429: 'ThrottlingException',
  500: 'InternalServerException',
  503: 'ServiceUnavailableException',
};

const ANTHROPIC_ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  429: 'rate_limit_error',
  500: 'api_error',
  529: 'overloaded_error',
};

let callIds = 0;

interface Encoded {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

function errorReply(protocol: Protocol, reply: Extract<Reply, { kind: 'status' }>): Encoded {
  const message = `scripted ${reply.status}`;
  if (protocol === 'bedrock') {
    const type = reply.errorType ?? BEDROCK_EXCEPTIONS[reply.status];
    return { status: reply.status, body: reply.body ?? { message }, headers: { ...(type ? { 'x-amzn-errortype': type } : {}), ...reply.headers } };
  }
  const body =
    protocol === 'anthropic'
      ? { type: 'error', error: { type: ANTHROPIC_ERROR_TYPES[reply.status] ?? 'api_error', message } }
      : { error: { message, type: reply.status >= 500 ? 'server_error' : 'invalid_request_error', code: null } };
  return { status: reply.status, body: reply.body ?? body, headers: reply.headers };
}

/** The overflow answer of each service (the messages the real ones send). */
function overflowReply(protocol: Protocol, reply: Extract<Reply, { kind: 'overflow' }>): Encoded {
  const tokens = reply.tokens ?? 9000;
  const window = reply.window ?? 8000;
  if (protocol === 'bedrock') return errorReply(protocol, { kind: 'status', status: 400, body: { message: 'Input is too long for requested model.' } });
  if (protocol === 'anthropic') {
    return { status: 400, body: { type: 'error', error: { type: 'invalid_request_error', message: `prompt is too long: ${tokens} tokens > ${window} maximum` } } };
  }
  return {
    status: 400,
    body: {
      error: {
        message: `This model's maximum context length is ${window} tokens. However, your messages resulted in ${tokens} tokens. Please reduce the length of the messages.`,
        type: 'invalid_request_error',
        param: 'messages',
        code: 'context_length_exceeded',
      },
    },
  };
}

/** The text of a request as a provider counts it: every message's text, tool calls and results, the tools, the schema. */
export function requestTokens(body: Record<string, unknown>): number {
  const texts: string[] = [];
  const walk = (v: unknown): void => {
    if (typeof v === 'string') texts.push(v);
    else if (Array.isArray(v)) for (const x of v) walk(x);
    else if (v && typeof v === 'object')
      for (const [k, x] of Object.entries(v)) if (k !== 'role' && k !== 'type' && k !== 'id' && k !== 'tool_call_id' && k !== 'tool_use_id' && k !== 'toolUseId') walk(x);
  };
  walk([body.system, body.messages, body.tools, body.toolConfig, body.response_format]);
  const messages = Array.isArray(body.messages) ? body.messages.length : 0;
  return texts.reduce((n, t) => n + countTokens(t), 0) + 4 * messages;
}

/** The output cap of a request, whatever the protocol calls it. */
const outputCap = (request: Record<string, unknown>): number =>
  Number(request.max_tokens ?? request.max_completion_tokens ?? (request.inferenceConfig as { maxTokens?: number } | undefined)?.maxTokens ?? 0);

function encode(protocol: Protocol, reply: Exclude<Reply, { kind: 'hang' | 'delay' | 'reset' | 'truncated' }>, request: Record<string, unknown>): Encoded {
  if (reply.kind === 'status') return errorReply(protocol, reply);
  if (reply.kind === 'overflow') return overflowReply(protocol, reply);
  if (reply.kind === 'quota') {
    if (protocol === 'bedrock') return errorReply(protocol, { kind: 'status', status: 400, errorType: 'ServiceQuotaExceededException' });
    return protocol === 'anthropic'
      ? {
          status: 400,
          body: {
            type: 'error',
            error: {
              type: 'invalid_request_error',
              message: 'Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.',
            },
          },
        }
      : {
          status: 429,
          body: { error: { type: 'insufficient_quota', code: 'insufficient_quota', message: 'You exceeded your current quota, please check your plan and billing details.' } },
        };
  }
  const scripted = ('usage' in reply && reply.usage) || { input: 50, output: 10 };
  // Like a real provider, never more output tokens than the request allowed.
  const cap = Number(request.max_tokens ?? request.max_completion_tokens ?? (request.inferenceConfig as { maxTokens?: number } | undefined)?.maxTokens ?? Number.POSITIVE_INFINITY);
  const usage = { input: scripted.input, output: Math.min(scripted.output, cap) };
  const calls = reply.kind === 'tools' ? reply.calls.map((c) => ({ id: `call_${++callIds}`, ...c })) : [];
  const text = reply.kind === 'text' ? reply.text : reply.kind === 'tools' ? (reply.text ?? '') : '';
  switch (protocol) {
    case 'openai': {
      if (reply.kind === 'refusal') {
        return reply.reason === 'content_filter'
          ? { status: 200, body: { model: 'fake', choices: [{ finish_reason: 'content_filter', message: { role: 'assistant', content: null } }] } }
          : { status: 200, body: { model: 'fake', choices: [{ finish_reason: 'stop', message: { role: 'assistant', content: null, refusal: 'I cannot help with that.' } }] } };
      }
      const toolCalls =
        reply.kind === 'bad-args'
          ? [{ id: `call_${++callIds}`, type: 'function', function: { name: reply.name, arguments: reply.raw } }]
          : calls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: JSON.stringify(c.args) } }));
      return {
        status: 200,
        body: {
          id: 'chatcmpl-fake',
          object: 'chat.completion',
          model: 'fake',
          choices: [
            {
              index: 0,
              finish_reason: toolCalls.length ? 'tool_calls' : 'stop',
              message: { role: 'assistant', content: text || null, ...(toolCalls.length ? { tool_calls: toolCalls } : {}) },
            },
          ],
          usage: { prompt_tokens: usage.input, completion_tokens: usage.output, total_tokens: usage.input + usage.output },
        },
      };
    }
    case 'anthropic': {
      if (reply.kind === 'refusal')
        return { status: 200, body: { type: 'message', role: 'assistant', model: 'fake', content: [], stop_reason: 'refusal', usage: { input_tokens: 5, output_tokens: 0 } } };
      const content = [...(text ? [{ type: 'text', text }] : []), ...calls.map((c) => ({ type: 'tool_use', id: c.id, name: c.name, input: c.args }))];
      return {
        status: 200,
        body: {
          id: 'msg_fake',
          type: 'message',
          role: 'assistant',
          model: 'fake',
          content,
          stop_reason: calls.length ? 'tool_use' : 'end_turn',
          usage: { input_tokens: usage.input, output_tokens: usage.output },
        },
      };
    }
    case 'bedrock': {
      if (reply.kind === 'refusal') {
        return {
          status: 200,
          body: {
            output: { message: { role: 'assistant', content: [] } },
            stopReason: reply.reason ?? 'guardrail_intervened',
            usage: { inputTokens: 5, outputTokens: 0, totalTokens: 5 },
          },
        };
      }
      const content = [...(text ? [{ text }] : []), ...calls.map((c) => ({ toolUse: { toolUseId: c.id, name: c.name, input: c.args } }))];
      return {
        status: 200,
        body: {
          output: { message: { role: 'assistant', content } },
          stopReason: calls.length ? 'tool_use' : 'end_turn',
          usage: { inputTokens: usage.input, outputTokens: usage.output, totalTokens: usage.input + usage.output },
          metrics: { latencyMs: 1 },
        },
      };
    }
  }
}

/** Starts a fake server for `protocol`; prefer the named starters below. */
export async function startFakeProvider(protocol: Protocol): Promise<FakeProvider> {
  const queue: Reply[] = [];
  let fallback: Reply = { kind: 'text', text: 'done' };
  let responder: ((body: Record<string, unknown>) => Reply) | undefined;
  const requests: RecordedRequest[] = [];
  const promptTokens: number[] = [];
  let contextWindow: number | undefined;
  const hanging = new Set<ServerResponse>();
  const timers = new Set<NodeJS.Timeout>();
  const sockets = new Set<Socket>();

  const play = (reply: Reply, res: ServerResponse, body: Record<string, unknown>): void => {
    switch (reply.kind) {
      case 'hang':
        hanging.add(res);
        return;
      case 'delay': {
        const timer = setTimeout(() => {
          timers.delete(timer);
          play(reply.then, res, body);
        }, reply.ms);
        timers.add(timer);
        return;
      }
      case 'reset':
        res.socket?.destroy();
        return;
      case 'truncated': {
        const full = JSON.stringify(encode(protocol, { kind: 'text', text: 'this answer is cut short' }, body).body);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(full.slice(0, Math.floor(full.length / 2)));
        return;
      }
      default: {
        const out = encode(protocol, reply, body);
        res.writeHead(out.status, { 'content-type': 'application/json', ...out.headers });
        res.end(JSON.stringify(out.body));
      }
    }
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
      } catch {
        /* recorded as {} */
      }
      requests.push({ method: req.method ?? 'POST', path: req.url ?? '/', headers: req.headers, body });
      const tokens = requestTokens(body);
      promptTokens.push(tokens);
      // A request over the window gets the overflow answer, as from the real service (its scripted reply waits).
      if (contextWindow !== undefined && tokens + outputCap(body) > contextWindow) {
        play({ kind: 'overflow', tokens: tokens + outputCap(body), window: contextWindow }, res, body);
        return;
      }
      play(queue.shift() ?? responder?.(body) ?? fallback, res, body);
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const root = `http://127.0.0.1:${port}`;
  const url = protocol === 'openai' ? `${root}/v1` : root;
  return {
    protocol,
    url,
    baseUrl: url,
    requests,
    script: (...replies) => {
      queue.push(...replies);
    },
    setDefault: (reply) => {
      fallback = reply;
    },
    respondWith: (fn) => {
      responder = fn;
    },
    setContextWindow: (tokens) => {
      contextWindow = tokens;
    },
    promptTokens,
    reset: () => {
      queue.length = 0;
      requests.length = 0;
      promptTokens.length = 0;
    },
    close: async () => {
      for (const timer of timers) clearTimeout(timer);
      for (const res of hanging) res.destroy();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A fake OpenAI-compatible server (`url` ends in /v1). */
export const startFakeOpenAI = (): Promise<FakeProvider> => startFakeProvider('openai');
/** A fake Anthropic Messages server (`url` is the root; the client posts to /v1/messages). */
export const startFakeAnthropic = (): Promise<FakeProvider> => startFakeProvider('anthropic');
/** A fake Bedrock runtime endpoint for Converse (`url` is the endpoint override; requests are signed, not checked). */
export const startFakeBedrock = (): Promise<FakeProvider> => startFakeProvider('bedrock');
