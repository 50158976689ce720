import {
  type Message as BedrockMessage,
  BedrockRuntimeClient,
  type BedrockRuntimeClientConfig,
  ConverseCommand,
  type ConverseCommandInput,
  type ConverseCommandOutput,
} from '@aws-sdk/client-bedrock-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { ModelConfig } from '../../lib/config';
import { type AgentError, BadRequest, ModelRefusal, RateLimited, TimeoutError, TransientError } from '../core/errors';
import type { Message, ModelProvider, ModelRequest, ModelResponse, ToolCall } from '../core/types';
import { malformed } from './wire';

/** Bedrock error names → the taxonomy (anything else is transient). */
const BEDROCK_ERRORS: Record<string, (message: string) => AgentError> = {
  ThrottlingException: (m) => new RateLimited(m, { status: 429 }),
  ServiceQuotaExceededException: (m) => new RateLimited(m, { status: 429 }),
  ModelTimeoutException: (m) => new TimeoutError(m, { status: 408 }),
  ServiceUnavailableException: (m) => new TransientError(m, { status: 503 }),
  InternalServerException: (m) => new TransientError(m, { status: 500 }),
  ModelNotReadyException: (m) => new TransientError(m, { status: 429 }),
  ModelErrorException: (m) => new TransientError(m, { status: 424 }),
  ValidationException: (m) => new BadRequest(m, { status: 400 }),
  AccessDeniedException: (m) => new BadRequest(m, { status: 403 }),
  ResourceNotFoundException: (m) => new BadRequest(m, { status: 404 }),
};

export function toBedrockMessages(messages: Message[]): BedrockMessage[] {
  const out: BedrockMessage[] = [];
  for (const m of messages) {
    if (m.role === 'user') out.push({ role: 'user', content: [{ text: m.content }] });
    else if (m.role === 'assistant') {
      out.push({
        role: 'assistant',
        content: [
          ...(m.content ? [{ text: m.content }] : []),
          ...m.toolCalls.map((c) => ({ toolUse: { toolUseId: c.id, name: c.name, input: (typeof c.arguments === 'object' && c.arguments ? c.arguments : {}) as never } })),
        ],
      });
    } else {
      const block = { toolResult: { toolUseId: m.toolCallId, content: [{ text: m.content }], status: m.isError ? ('error' as const) : ('success' as const) } };
      const last = out.at(-1);
      if (last?.role === 'user' && last.content?.every((b) => 'toolResult' in b)) last.content.push(block);
      else out.push({ role: 'user', content: [block] });
    }
  }
  return out;
}

/** The Converse API. SDK retries are off (the state machine owns retries); the client timeout aborts the call. */
export function createBedrockProvider(config: ModelConfig, deps: { client?: BedrockRuntimeClient; clientConfig?: BedrockRuntimeClientConfig } = {}): ModelProvider {
  const client =
    deps.client ??
    new BedrockRuntimeClient({
      maxAttempts: 1,
      // Converse is a plain request/response call: HTTP/1.1 with the client timeout (also reachable by any gateway).
      requestHandler: new NodeHttpHandler({ connectionTimeout: config.timeoutMs, requestTimeout: config.timeoutMs }),
      ...(config.region ? { region: config.region } : {}),
      ...(config.baseUrl ? { endpoint: config.baseUrl } : {}),
      ...deps.clientConfig,
    });
  const label = `bedrock ${config.model}`;
  return {
    provider: 'bedrock',
    model: config.model,
    async complete(request: ModelRequest): Promise<ModelResponse> {
      const input: ConverseCommandInput = {
        modelId: config.model,
        messages: toBedrockMessages(request.messages),
        ...(request.system ? { system: [{ text: request.system }] } : {}),
        inferenceConfig: { maxTokens: request.maxOutputTokens },
        ...(request.tools.length
          ? { toolConfig: { tools: request.tools.map((t) => ({ toolSpec: { name: t.name, description: t.description, inputSchema: { json: t.parameters as never } } })) } }
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
        const e = err as { name?: string; message?: string };
        const make = BEDROCK_ERRORS[e.name ?? ''];
        const message = `${label}: ${e.name ?? 'Error'}: ${e.message ?? String(err)}`;
        throw make ? make(message) : new TransientError(message, { cause: err });
      } finally {
        clearTimeout(timer);
      }
      const stopReason = String(out.stopReason ?? 'unknown');
      if (stopReason === 'guardrail_intervened' || stopReason === 'content_filtered') throw new ModelRefusal(`${label} refused (stopReason ${stopReason})`);
      const content = out.output && 'message' in out.output ? out.output.message?.content : undefined;
      if (!Array.isArray(content)) throw malformed(label, 'no output.message.content');
      const text = content.flatMap((b) => (b.text !== undefined ? [b.text] : [])).join('');
      const toolCalls: ToolCall[] = content.flatMap((b) => (b.toolUse ? [{ id: b.toolUse.toolUseId ?? '', name: b.toolUse.name ?? '', arguments: b.toolUse.input ?? {} }] : []));
      const usage = out.usage;
      return { text, toolCalls, usage: { inputTokens: usage?.inputTokens ?? 0, outputTokens: usage?.outputTokens ?? 0 }, finishReason: stopReason, model: config.model };
    },
  };
}
