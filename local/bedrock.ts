import { createServer, type IncomingHttpHeaders, type IncomingMessage, request, type ServerResponse } from 'node:http';
import { createServer as createHttp2Server, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import { createServer as createNetServer, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import type { AgentConfig } from '../lambdas/core/config';
import { estimatePromptTokens } from '../lambdas/core/tokens';
import type { Message, ModelRequest, ModelResponse, ToolCall, ToolSpec } from '../lambdas/core/types';
import type { BedrockDeps } from '../lambdas/providers/bedrock';
import { createDemoProvider } from '../lambdas/providers/demo';
import { type LocalIam, UnrecognizedClient } from './iam/check';
import { credentialsOf, currentCaller } from './iam/clients';
import { AccessDenied } from './iam/policy';
import { ADMIN_ACCESS_KEY_ID } from './iam/roles';
import { KEEP_ALIVE_TIMEOUT_MS, type LocalEndpoint, readBody } from './listen';
import { LOCAL_ACCOUNT, LOCAL_REGION } from './template';

/**
 * Amazon Bedrock Runtime offline (`AWS_ENDPOINT_URL_BEDROCK_RUNTIME`): the Converse operation on its REST wire
 * protocol (`POST /model/{modelId}/converse`, JSON in and out; errors as HTTP status, `x-amzn-ErrorType` and
 * `{"message"}`), behind the same IAM check as the other local endpoints: the caller's role needs
 * `bedrock:InvokeModel` on the model's ARN (bedrockChecks). A checked request is answered by the model's stand-in —
 * an upstream Converse server (a scripted fake in tests: the model config's `baseUrl`) — or by the demo model.
 */

/** Largest request accepted (Bedrock's own limit on a Converse request is larger than any prompt the app sends). */
const MAX_REQUEST_BYTES = 20 * 1024 * 1024;

/** Geography prefixes of the system-defined (cross-region) inference profiles: `us.anthropic.claude-…`. */
const PROFILE_PREFIXES = new Set(['us', 'eu', 'apac', 'us-gov', 'global', 'jp', 'au', 'ca']);

/**
 * The resources AWS authorizes a Converse/InvokeModel on (Amazon Bedrock User Guide, "Prerequisites for inference
 * profiles" and the Service Authorization Reference's resource types): a foundation model id on
 * `arn:aws:bedrock:<region>::foundation-model/<id>`; a system inference profile id (`us.<model>`) on the profile,
 * `arn:aws:bedrock:<region>:<account>:inference-profile/<id>`, and on the foundation model it routes to (checked
 * in the request's region; AWS checks each region the profile routes to); a model given by ARN on that ARN.
 */
export function bedrockChecks(modelId: string, region: string, account = LOCAL_ACCOUNT): string[] {
  if (modelId.startsWith('arn:')) {
    const profile = /^arn:([^:]+):bedrock:([^:]*):[^:]*:inference-profile\/([^.]+)\.(.+)$/.exec(modelId);
    if (profile && PROFILE_PREFIXES.has(String(profile[3]))) return [modelId, `arn:${profile[1]}:bedrock:${profile[2]}::foundation-model/${profile[4]}`];
    return [modelId];
  }
  const [prefix, ...rest] = modelId.split('.');
  if (prefix && rest.length > 1 && PROFILE_PREFIXES.has(prefix)) {
    return [`arn:aws:bedrock:${region}:${account}:inference-profile/${modelId}`, `arn:aws:bedrock:${region}::foundation-model/${rest.join('.')}`];
  }
  return [`arn:aws:bedrock:${region}::foundation-model/${modelId}`];
}

/** The region of a SigV4 request (`Credential=<key>/<date>/<region>/<service>/aws4_request`): where Bedrock runs it. */
export function regionOfRequest(authorization: string | undefined): string {
  return /Credential=[^/]+\/[^/]+\/([^/]+)\//.exec(authorization ?? '')?.[1] ?? LOCAL_REGION;
}

type Block = {
  text?: string;
  toolUse?: { toolUseId?: string; name?: string; input?: unknown };
  toolResult?: { toolUseId?: string; content?: { text?: string }[]; status?: string };
};
type ConverseMessage = { role?: string; content?: Block[] };

/** A Converse request in the model port's terms (the demo model answers it). */
export function fromConverseRequest(body: Record<string, unknown>): ModelRequest {
  const names = new Map<string, string>();
  const messages: Message[] = [];
  for (const m of (body.messages ?? []) as ConverseMessage[]) {
    const content = m.content ?? [];
    if (m.role === 'assistant') {
      const toolCalls: ToolCall[] = [];
      for (const b of content) {
        if (b.toolUse?.toolUseId && b.toolUse.name) {
          names.set(b.toolUse.toolUseId, b.toolUse.name);
          toolCalls.push({ id: b.toolUse.toolUseId, name: b.toolUse.name, arguments: b.toolUse.input ?? {} });
        }
      }
      messages.push({ role: 'assistant', content: content.map((b) => b.text ?? '').join(''), toolCalls });
      continue;
    }
    const text = content.map((b) => b.text ?? '').join('');
    if (text) messages.push({ role: 'user', content: text });
    for (const b of content) {
      const r = b.toolResult;
      if (r?.toolUseId)
        messages.push({
          role: 'tool',
          toolCallId: r.toolUseId,
          name: names.get(r.toolUseId) ?? '',
          content: (r.content ?? []).map((c) => c.text ?? '').join(''),
          isError: r.status === 'error',
        });
    }
  }
  const config = (body.toolConfig ?? {}) as {
    tools?: { toolSpec?: { name: string; description?: string; inputSchema?: { json?: Record<string, unknown> } } }[];
    toolChoice?: unknown;
  };
  const tools: ToolSpec[] = (config.tools ?? []).flatMap((t) =>
    t.toolSpec ? [{ name: t.toolSpec.name, description: t.toolSpec.description ?? '', parameters: t.toolSpec.inputSchema?.json ?? {} }] : [],
  );
  const system = ((body.system ?? []) as { text?: string }[]).map((s) => s.text ?? '').join('\n');
  const maxOutputTokens = Number((body.inferenceConfig as { maxTokens?: number } | undefined)?.maxTokens ?? 4096);
  const answerTool = forcedAnswerTool(config.toolChoice as ToolChoice | undefined, tools);
  // A model forced to use a tool gives its final answer through one: the demo answers that tool's schema.
  const output = answerTool ? { output: { schema: answerTool.parameters as Record<string, unknown>, name: answerTool.name } } : {};
  return { ...(system ? { system } : {}), messages, tools: answerTool ? tools.filter((t) => t !== answerTool) : tools, maxOutputTokens, ...output };
}

type ToolChoice = { any?: object; tool?: { name?: string }; auto?: object };

/**
 * The tool a Converse request forces the final answer through, for the demo model standing in for the model: with
 * `toolChoice: {tool: {name}}` that tool; with `toolChoice: {any: {}}` (the model must call some tool) the one
 * whose description asks for the final answer, else the last one. None with `auto` or no choice.
 */
export function forcedAnswerTool(choice: ToolChoice | undefined, tools: ToolSpec[]): ToolSpec | undefined {
  if (choice?.tool?.name) return tools.find((t) => t.name === choice.tool?.name);
  if (!choice?.any || tools.length === 0) return undefined;
  return tools.find((t) => /final answer/i.test(t.description)) ?? tools.at(-1);
}

/**
 * A model answer as a Converse response. With `outputTool` (the request forced a tool: see forcedAnswerTool), an
 * answer without tool calls is that tool's call, its text (the JSON the demo made of the schema) the input.
 */
export function toConverseResponse(response: ModelResponse, outputTool?: string): Record<string, unknown> {
  if (outputTool && response.toolCalls.length === 0) {
    const input = JSON.parse(response.text || '{}') as unknown;
    return toConverseResponse({ ...response, text: '', toolCalls: [{ id: `tooluse_${outputTool}`, name: outputTool, arguments: input as Record<string, unknown> }] });
  }
  const content = [...(response.text ? [{ text: response.text }] : []), ...response.toolCalls.map((c) => ({ toolUse: { toolUseId: c.id, name: c.name, input: c.arguments } }))];
  const { inputTokens, outputTokens } = response.usage;
  return {
    output: { message: { role: 'assistant', content } },
    stopReason: response.toolCalls.length ? 'tool_use' : 'end_turn',
    usage: { inputTokens, outputTokens, totalTokens: inputTokens + outputTokens },
    metrics: { latencyMs: 1 },
  };
}

export interface LocalBedrockOptions {
  port?: number;
  host?: string;
  /** The Converse server standing in for a model (by model id), when not the demo model. */
  upstreamFor?: (modelId: string) => string | undefined;
  /** The stand-in models' context window: a longer input is `ValidationException: Input is too long…`. */
  contextTokens?: number;
}

export type LocalBedrock = Omit<LocalEndpoint, 'server'>;

type Req = IncomingMessage;
type Res = ServerResponse;

/** The client preface of HTTP/2 over cleartext with prior knowledge (RFC 9113, 3.4): what the SDK's default sends. */
const H2_PREFACE = Buffer.from('PRI * HTTP/2.0');

/** Starts the local Bedrock Runtime endpoint. */
export async function startBedrockRuntime(iam: LocalIam, options: LocalBedrockOptions = {}): Promise<LocalBedrock> {
  const demo = createDemoProvider('default');
  const contextTokens = options.contextTokens ?? 200_000;
  const handle = (req: Req, res: Res): void => {
    const fail = (status: number, type: string, message: string): void => {
      if (res.headersSent) {
        res.end();
        return;
      }
      res.writeHead(status, { 'content-type': 'application/json', 'x-amzn-errortype': type });
      res.end(JSON.stringify({ message }));
    };
    if (!req.method) return;
    const match = /^\/model\/([^/]+)\/converse$/.exec((req.url ?? '').split('?')[0] ?? '');
    if (req.method !== 'POST' || !match?.[1]) {
      req.resume();
      fail(404, 'UnknownOperationException', `served: POST /model/{modelId}/converse (Converse); got ${req.method} ${req.url}`);
      return;
    }
    const modelId = decodeURIComponent(match[1]);
    readBody(req, MAX_REQUEST_BYTES)
      .then(async (raw) => {
        if (raw === undefined) return fail(413, 'ValidationException', `the request is larger than ${MAX_REQUEST_BYTES} bytes`);
        try {
          const principal = iam.principalOf(req.headers.authorization);
          iam.authorize(principal, 'bedrock:InvokeModel', bedrockChecks(modelId, regionOfRequest(req.headers.authorization)));
        } catch (err) {
          if (err instanceof AccessDenied || err instanceof UnrecognizedClient) return fail(403, err.name, err.message);
          throw err;
        }
        let body: Record<string, unknown>;
        try {
          body = JSON.parse(raw.toString('utf8') || '{}') as Record<string, unknown>;
        } catch {
          return fail(400, 'ValidationException', 'the request body is not JSON');
        }
        // Converse refuses an empty conversation and one whose first message is not the user's (as AWS answers both).
        if (!Array.isArray(body.messages) || (body.messages[0] as ConverseMessage | undefined)?.role !== 'user')
          return fail(400, 'ValidationException', 'A conversation must start with a user message. Try again with a conversation that starts with a user message.');
        const modelRequest = fromConverseRequest(body);
        if (estimatePromptTokens(modelRequest) > contextTokens) return fail(400, 'ValidationException', 'Input is too long for requested model.');
        const upstream = options.upstreamFor?.(modelId);
        if (upstream) return forward(req, raw, new URL(upstream), res);
        const answer = await demo.complete(modelRequest);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(toConverseResponse({ ...answer, model: modelId }, modelRequest.output?.name)));
      })
      .catch((err: Error) => fail(500, 'InternalServerException', err.message));
  };
  return listenBoth(handle, options);
}

/**
 * Bedrock Runtime speaks HTTP/1.1 and HTTP/2: the AWS CLI and the app's provider send HTTP/1.1, the SDK's default
 * client for Bedrock Runtime HTTP/2. One port serves both, told apart by the HTTP/2 connection preface.
 */
async function listenBoth(handle: (req: Req, res: Res) => void, options: { port?: number; host?: string }): Promise<LocalBedrock> {
  const h1 = createServer(handle);
  h1.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  // HTTP/2's compatibility API has what the handler uses of HTTP/1's request and response.
  const h2 = createHttp2Server((req: Http2ServerRequest, res: Http2ServerResponse) => handle(req as unknown as Req, res as unknown as Res));
  const sockets = new Set<Socket>();
  const net = createNetServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    let head = Buffer.alloc(0);
    const sniff = (data: Buffer) => {
      head = Buffer.concat([head, data]);
      const n = Math.min(head.length, H2_PREFACE.length);
      const h2Prefix = head.subarray(0, n).equals(H2_PREFACE.subarray(0, n));
      if (h2Prefix && head.length < H2_PREFACE.length) return; // the preface may arrive in pieces
      socket.off('data', sniff);
      dispatch(socket, head, h2Prefix);
    };
    socket.on('data', sniff);
  });
  /** Hands a connection to the server of its protocol, with the bytes read to tell which. */
  const dispatch = (socket: Socket, chunk: Buffer, isH2: boolean): void => {
    socket.pause();
    if (!isH2) {
      socket.unshift(chunk);
      h1.emit('connection', socket);
      socket.resume();
      return;
    }
    // HTTP/2 reads a socket's handle natively (past the bytes read here): it gets a stream that replays them.
    const stream = new Duplex({
      read: () => socket.resume(),
      write: (data: Buffer, _encoding, done) => socket.write(data, done),
      final: (done) => socket.end(done),
      destroy: (err, done) => {
        socket.destroy();
        done(err);
      },
    });
    stream.push(chunk);
    socket.on('data', (data: Buffer) => {
      if (!stream.push(data)) socket.pause();
    });
    socket.on('end', () => stream.push(null));
    socket.on('close', () => stream.destroy());
    h2.emit('connection', stream);
  };
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    net.once('error', reject);
    net.listen(options.port ?? 0, host, () => resolve());
  });
  const { port } = net.address() as { port: number };
  return {
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        h1.closeAllConnections();
        h2.close();
        net.close(() => resolve());
      }),
  };
}

/** Hop-by-hop headers (RFC 9110, 7.6.1) and HTTP/2 pseudo-headers: never forwarded as they are. */
const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te', 'host', 'content-length', 'http2-settings']);
const endToEnd = (headers: IncomingHttpHeaders) => Object.fromEntries(Object.entries(headers).filter(([k]) => !k.startsWith(':') && !HOP.has(k.toLowerCase())));

/** Sends the checked request on to the model's stand-in and its answer back unchanged. */
function forward(req: Req, raw: Buffer, upstream: URL, res: Res): void {
  const base = upstream.pathname.replace(/\/$/, '');
  const out = request(
    {
      host: upstream.hostname,
      port: upstream.port,
      method: 'POST',
      path: `${base}${req.url}`,
      headers: { ...endToEnd(req.headers), host: upstream.host, 'content-length': String(raw.length) },
    },
    (up) => {
      res.writeHead(up.statusCode ?? 500, endToEnd(up.headers));
      up.pipe(res);
    },
  );
  // The stand-in hanging up is what a dropped connection to Bedrock looks like to the SDK.
  out.on('error', () => res.destroy());
  res.on('close', () => out.destroy());
  out.end(raw);
}

/**
 * Which models the local Bedrock forwards to a Converse server of their own: a `bedrock` model whose config names a
 * `baseUrl` (in AWS an endpoint override; offline the scripted fake of a test stands behind it). Others: the demo.
 */
export function bedrockUpstreams(config: AgentConfig): (modelId: string) => string | undefined {
  const upstreams = new Map<string, string>();
  for (const m of [config.models.primary, config.models.fallback]) if (m?.provider === 'bedrock' && m.baseUrl) upstreams.set(m.model, m.baseUrl);
  return (modelId) => upstreams.get(modelId);
}

/**
 * The Bedrock client config of the handlers offline: the local endpoint, signed with the credentials of the function
 * that is running (its role, local/iam/clients.ts) — read on every request, as each function has its own client in
 * AWS — and the local region unless the model names its own.
 */
export function bedrockDepsOf(endpoint: string): BedrockDeps {
  const credentials = async () => {
    const caller = currentCaller();
    // Expired at once, so the SDK asks again on the next request (which may come from another function).
    return { ...(caller ? credentialsOf(caller) : { accessKeyId: ADMIN_ACCESS_KEY_ID, secretAccessKey: ADMIN_ACCESS_KEY_ID }), expiration: new Date(0) };
  };
  return { clientConfig: { endpoint, region: LOCAL_REGION, credentials } };
}
