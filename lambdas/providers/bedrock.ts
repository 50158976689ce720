/**
 * Amazon Bedrock through the Converse API (`@aws-sdk/client-bedrock-runtime`, ConverseCommand). `region` comes from
 * the model config (else the SDK's default chain: the Lambda's region); `baseUrl`, when set, overrides the endpoint
 * (a VPC endpoint, a gateway, or a fake server in tests). Credentials are the SDK's default chain (the Lambda role).
 *
 * SDK retries are OFF (`maxAttempts: 1`): the state machine owns retries, so one call is exactly one request. The
 * client timeout is `timeoutMs`, enforced twice: the HTTP handler's connection/request timeouts and an abort signal
 * covering the whole call (headers and body).
 */
import {
  type Message as BedrockMessage,
  BedrockRuntimeClient,
  type BedrockRuntimeClientConfig,
  type Tool as BedrockTool,
  type ContentBlock,
  ConverseCommand,
  type ConverseCommandInput,
  type ConverseCommandOutput,
} from '@aws-sdk/client-bedrock-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { ModelConfig } from '../core/config';
import { type AgentError, BadRequest, CONTEXT_OVERFLOW_MESSAGE, ContextOverflow, ModelRefusal, RateLimited, TimeoutError, TransientError } from '../core/errors';
import { bedrockReasoningKind } from '../core/model-params';
import type { Message, ModelProvider, ModelRequest, ModelResponse, ToolCall, ToolSpec } from '../core/types';
import { outputTool, thinkingBudget } from './anthropic';
import { retryAfterSeconds } from './provider-http';
import { argumentsObject, malformed, mergeTurns, normalizeFinishReason, wireToolId } from './wire';

type Make = (message: string, options: { status?: number; retryAfterSeconds?: number; cause: unknown }) => AgentError;
const withStatus = (status: number, o: { status?: number; cause: unknown }) => ({ status: o.status ?? status, cause: o.cause });

/** Bedrock exception names → the taxonomy. Unknown names fall back on the HTTP status (4xx BadRequest, else transient). */
export const BEDROCK_ERRORS: Readonly<Record<string, Make>> = {
  ThrottlingException: (m, o) => new RateLimited(m, { ...o, ...withStatus(429, o) }),
  // "Your request exceeds the service quota for your account": a per-account rate quota (requests or tokens per minute).
  ServiceQuotaExceededException: (m, o) => new RateLimited(m, { ...o, ...withStatus(429, o) }),
  ModelTimeoutException: (m, o) => new TimeoutError(m, withStatus(408, o)),
  ServiceUnavailableException: (m, o) => new TransientError(m, withStatus(503, o)),
  InternalServerException: (m, o) => new TransientError(m, withStatus(500, o)),
  ModelNotReadyException: (m, o) => new TransientError(m, withStatus(429, o)),
  ModelErrorException: (m, o) => new TransientError(m, withStatus(424, o)),
  // "Input is too long for requested model": the prompt does not fit the context window (compacted and retried once).
  ValidationException: (m, o) => (CONTEXT_OVERFLOW_MESSAGE.test(m) ? new ContextOverflow(m, withStatus(400, o)) : new BadRequest(m, withStatus(400, o))),
  AccessDeniedException: (m, o) => new BadRequest(m, withStatus(403, o)),
  ResourceNotFoundException: (m, o) => new BadRequest(m, withStatus(404, o)),
  UnrecognizedClientException: (m, o) => new BadRequest(m, withStatus(403, o)),
  // The SDK's HTTP handler names its own connection/request timeouts (and ECONNRESET/EPIPE/ETIMEDOUT) TimeoutError.
  TimeoutError: (m, o) => new TimeoutError(m, { cause: o.cause }),
};

/** Stop reasons that mean the model (or a guardrail) refused on content grounds. */
const REFUSAL_STOP_REASONS = new Set(['guardrail_intervened', 'content_filtered']);

/** The conversation in Converse form; roles alternate, so the tool results of one step travel in one user message. */
export function toBedrockMessages(messages: Message[]): BedrockMessage[] {
  const text = (t: string): ContentBlock[] => (t ? [{ text: t }] : []);
  return mergeTurns<'user' | 'assistant', ContentBlock>(
    messages.map((m) => {
      if (m.role === 'user') return { role: 'user' as const, content: text(m.content) };
      if (m.role === 'tool') {
        const toolResult = { toolUseId: wireToolId(m.toolCallId), content: [{ text: m.content }], status: m.isError ? ('error' as const) : ('success' as const) };
        return { role: 'user' as const, content: [{ toolResult }] };
      }
      return {
        role: 'assistant' as const,
        content: [
          // Reasoning blocks (extended thinking) go back first, unchanged, as Converse requires with tool results.
          ...(m.reasoning?.provider === 'bedrock' ? (m.reasoning.blocks as ContentBlock[]) : []),
          ...text(m.content),
          // The SDK types tool input as a DocumentType; a plain JSON object is what it serialises.
          ...m.toolCalls.map((c): ContentBlock => ({ toolUse: { toolUseId: wireToolId(c.id), name: c.name, input: argumentsObject(c.arguments) as never } })),
        ],
      };
    }),
  );
}

/** The tools of a request in Converse form, with the output tool (and a forced tool choice) when a schema is asked for. */
export function bedrockToolConfig(request: Pick<ModelRequest, 'tools' | 'output'>, thinking = false): NonNullable<ConverseCommandInput['toolConfig']> {
  if (!request.output) return { tools: toBedrockTools(request.tools) };
  const out = outputTool(request.output);
  return {
    tools: [...toBedrockTools(request.tools), ...toBedrockTools([{ name: out.name, description: out.description, parameters: out.input_schema }])],
    // The answer must come through a tool (its own or the output tool); extended thinking allows only "auto".
    toolChoice: thinking ? { auto: {} } : { any: {} },
  };
}

/** Tools in Converse form. */
export function toBedrockTools(tools: ToolSpec[]): BedrockTool[] {
  return tools.map((t) => ({ toolSpec: { name: t.name, description: t.description, inputSchema: { json: t.parameters as never } } }));
}

/**
 * The model parameters of a request in Converse form: `inferenceConfig` (maxTokens, temperature, topP,
 * stopSequences) and, for the models that take one, the reasoning setting through `additionalModelRequestFields`
 * (Claude: extended thinking with the derived budget; gpt-oss: `reasoning_effort`).
 */
export function bedrockParams(
  config: Pick<ModelConfig, 'model' | 'temperature' | 'topP' | 'stopSequences' | 'reasoningEffort'>,
  maxOutputTokens: number,
): Pick<ConverseCommandInput, 'inferenceConfig' | 'additionalModelRequestFields'> {
  const kind = config.reasoningEffort ? bedrockReasoningKind(config.model) : undefined;
  const budget = kind === 'anthropic' ? thinkingBudget(config.reasoningEffort, maxOutputTokens) : undefined;
  const extra = budget !== undefined ? { thinking: { type: 'enabled', budget_tokens: budget } } : kind === 'openai' ? { reasoning_effort: config.reasoningEffort } : undefined;
  return {
    inferenceConfig: {
      maxTokens: maxOutputTokens,
      ...(config.temperature !== undefined && budget === undefined ? { temperature: config.temperature } : {}),
      ...(config.topP !== undefined ? { topP: config.topP } : {}),
      ...(config.stopSequences ? { stopSequences: config.stopSequences } : {}),
    },
    ...(extra ? { additionalModelRequestFields: extra as never } : {}),
  };
}

/** Reads a Converse response; throws ModelRefusal (guardrail, content filter) or TransientError (malformed). */
export function fromBedrockResponse(out: ConverseCommandOutput, label: string, model: string, outputName?: string): ModelResponse {
  const stopReason = out.stopReason === undefined ? undefined : String(out.stopReason);
  if (stopReason && REFUSAL_STOP_REASONS.has(stopReason)) throw new ModelRefusal(`${label} refused (stopReason ${stopReason})`);
  const content = out.output && 'message' in out.output ? out.output.message?.content : undefined;
  if (!Array.isArray(content)) throw malformed(label, 'no output.message.content');
  const toolCalls: ToolCall[] = [];
  let text = '';
  let output: string | undefined;
  const reasoning: ContentBlock[] = [];
  for (const [i, block] of content.entries()) {
    if (block.reasoningContent) reasoning.push(block);
    else if (typeof block.text === 'string') text += block.text;
    else if (block.toolUse) {
      if (!block.toolUse.toolUseId || !block.toolUse.name) throw malformed(label, `content[${i}] toolUse has no id or name`);
      if (outputName !== undefined && block.toolUse.name === outputName) {
        output = JSON.stringify(block.toolUse.input ?? {});
        continue;
      }
      toolCalls.push({ id: block.toolUse.toolUseId, name: block.toolUse.name, arguments: block.toolUse.input ?? {} });
    }
  }
  const usage = { inputTokens: out.usage?.inputTokens ?? 0, outputTokens: out.usage?.outputTokens ?? 0 };
  // The final answer came through the output tool: it is the answer (JSON), and the other calls are dropped.
  if (output !== undefined) return { text: output, toolCalls: [], usage, finishReason: 'stop', model };
  return { text, toolCalls, usage, finishReason: normalizeFinishReason(stopReason), model, ...(reasoning.length ? { reasoning: { provider: 'bedrock', blocks: reasoning } } : {}) };
}

/** Classifies anything the SDK threw (never called for our own timeout, which is reported before). */
export function classifyBedrockError(err: unknown, label: string): AgentError {
  const e = (err ?? {}) as { name?: string; message?: string; code?: string; $metadata?: { httpStatusCode?: number }; $response?: { headers?: Record<string, string> } };
  const name = e.name ?? 'Error';
  const status = e.$metadata?.httpStatusCode;
  const headers = e.$response?.headers;
  const retryAfter = headers ? retryAfterSeconds(new Headers(headers)) : undefined;
  const message = `${label}: ${name}${status ? ` (HTTP ${status})` : ''}: ${(e.message ?? String(err)).slice(0, 300)}`;
  const make = BEDROCK_ERRORS[name];
  if (make) return make(message, { status, retryAfterSeconds: retryAfter, cause: err });
  if (status === 429) return new RateLimited(message, { status, retryAfterSeconds: retryAfter, cause: err });
  if (status !== undefined && status >= 400 && status < 500 && status !== 408) return new BadRequest(message, { status, cause: err });
  // 5xx, 408, a network error (ECONNREFUSED, socket hang up, …), or a body the SDK could not parse.
  return new TransientError(message, { status, cause: err });
}

/** What the Bedrock client needs besides its config (tests and the offline engine inject these). */
export interface BedrockDeps {
  /** A ready client (its retries and timeouts are then the caller's business). */
  client?: BedrockRuntimeClient;
  /** Merged over the defaults this module sets (region, endpoint, credentials, …). */
  clientConfig?: BedrockRuntimeClientConfig;
}

/** A Converse client. One `complete` is one request: SDK retries are off (the state machine owns them). */
export function createBedrockProvider(config: ModelConfig, deps: BedrockDeps = {}): ModelProvider {
  const client =
    deps.client ??
    new BedrockRuntimeClient({
      ...(config.region ? { region: config.region } : {}),
      ...(config.baseUrl ? { endpoint: config.baseUrl } : {}),
      // Converse is a plain request/response call: HTTP/1.1 (the SDK's default handler is HTTP/2, which a gateway
      // or a fake server may not speak) with the client timeout on connect and on the request.
      requestHandler: new NodeHttpHandler({ connectionTimeout: config.timeoutMs, requestTimeout: config.timeoutMs, throwOnRequestTimeout: true }),
      ...deps.clientConfig,
      // The model's own region names where it runs (and the ARN its grant is on), whatever the client config says.
      ...(config.region ? { region: config.region } : {}),
      maxAttempts: 1,
    });
  const label = `bedrock ${config.model}`;
  return {
    provider: 'bedrock',
    model: config.model,
    async complete(request: ModelRequest): Promise<ModelResponse> {
      const params = bedrockParams(config, request.maxOutputTokens);
      const input: ConverseCommandInput = {
        modelId: config.model,
        messages: toBedrockMessages(request.messages),
        ...(request.system ? { system: [{ text: request.system }] } : {}),
        ...params,
        ...(request.tools.length || request.output
          ? { toolConfig: bedrockToolConfig(request, params.additionalModelRequestFields !== undefined && 'thinking' in (params.additionalModelRequestFields as object)) }
          : {}),
      };
      const controller = new AbortController();
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        controller.abort();
      }, config.timeoutMs);
      let out: ConverseCommandOutput;
      try {
        out = await client.send(new ConverseCommand(input), { abortSignal: controller.signal });
      } catch (err) {
        if (timedOut) throw new TimeoutError(`${label} did not answer within ${config.timeoutMs} ms`, { cause: err });
        throw classifyBedrockError(err, label);
      } finally {
        clearTimeout(timer);
      }
      return fromBedrockResponse(out, label, config.model, request.output?.name);
    },
  };
}
