/**
 * OpenAI Chat Completions with tools (`POST {baseUrl}/chat/completions`): OpenAI itself and any OpenAI-compatible
 * server (Ollama, vLLM, LiteLLM, gateways). `baseUrl` is the API root including the version segment, e.g.
 * `https://api.openai.com/v1` (the default) or `http://127.0.0.1:11434/v1` (Ollama).
 */
import type { ModelConfig } from '../core/config';
import { ModelRefusal } from '../core/errors';
import type { Message, ModelProvider, ModelRequest, ModelResponse, ToolCall, ToolSpec } from '../core/types';
import { type FetchLike, postProviderJson } from './provider-http';
import { malformed, newToolCallId, normalizeFinishReason, toolCallFromJsonArguments } from './wire';

export const OPENAI_DEFAULT_BASE_URL = 'https://api.openai.com/v1';

/** A message as Chat Completions takes it. */
export type OpenAIMessage =
  | { role: 'system' | 'user'; content: string }
  | { role: 'assistant'; content: string | null; tool_calls?: { id: string; type: 'function'; function: { name: string; arguments: string } }[] }
  | { role: 'tool'; tool_call_id: string; content: string };

interface ChatCompletion {
  model?: string;
  choices?: {
    finish_reason?: string | null;
    message?: {
      content?: string | { type?: string; text?: string }[] | null;
      refusal?: string | null;
      tool_calls?: { id?: string; function?: { name?: string; arguments?: unknown } }[] | null;
    };
  }[];
  usage?: { prompt_tokens?: number; completion_tokens?: number } | null;
}

/** The conversation in Chat Completions form: system first, assistant `tool_calls`, tool results as role "tool". */
export function toOpenAIMessages(system: string | undefined, messages: Message[]): OpenAIMessage[] {
  const out: OpenAIMessage[] = system ? [{ role: 'system', content: system }] : [];
  for (const m of messages) {
    if (m.role === 'user') out.push({ role: 'user', content: m.content });
    else if (m.role === 'tool') out.push({ role: 'tool', tool_call_id: m.toolCallId, content: m.content });
    else if (m.toolCalls.length === 0) out.push({ role: 'assistant', content: m.content });
    else {
      out.push({
        role: 'assistant',
        content: m.content || null,
        tool_calls: m.toolCalls.map((c) => ({
          id: c.id,
          type: 'function',
          // Arguments that were not JSON go back as the model wrote them (it is told so by the tool result).
          function: { name: c.name, arguments: typeof c.arguments === 'string' ? c.arguments : JSON.stringify(c.arguments ?? {}) },
        })),
      });
    }
  }
  return out;
}

/** Tools in Chat Completions form. */
export function toOpenAITools(tools: ToolSpec[]): { type: 'function'; function: { name: string; description: string; parameters: Record<string, unknown> } }[] {
  return tools.map((t) => ({ type: 'function', function: { name: t.name, description: t.description, parameters: t.parameters } }));
}

/**
 * The output-token cap's field: OpenAI itself wants `max_completion_tokens` (its reasoning models reject
 * `max_tokens`); compatible servers (Ollama, vLLM, LiteLLM, older gateways) all understand `max_tokens`.
 */
export function maxTokensField(baseUrl: string): 'max_tokens' | 'max_completion_tokens' {
  try {
    return new URL(baseUrl).hostname === 'api.openai.com' ? 'max_completion_tokens' : 'max_tokens';
  } catch {
    return 'max_tokens';
  }
}

/** The model parameters of a config in Chat Completions form (absent ones are left to the server's defaults). */
export function openAIParams(config: Pick<ModelConfig, 'temperature' | 'topP' | 'stopSequences' | 'reasoningEffort'>): Record<string, unknown> {
  return {
    ...(config.temperature !== undefined ? { temperature: config.temperature } : {}),
    ...(config.topP !== undefined ? { top_p: config.topP } : {}),
    ...(config.stopSequences ? { stop: config.stopSequences } : {}),
    ...(config.reasoningEffort ? { reasoning_effort: config.reasoningEffort } : {}),
  };
}

/** Reads a Chat Completions response; throws ModelRefusal (content filter, refusal) or TransientError (malformed). */
export function fromOpenAIResponse(json: unknown, label: string, model: string): ModelResponse {
  const body = (typeof json === 'object' && json !== null ? json : {}) as ChatCompletion;
  const choice = Array.isArray(body.choices) ? body.choices[0] : undefined;
  const message = choice?.message;
  if (!message || typeof message !== 'object') throw malformed(label, 'no choices[0].message');
  if (choice.finish_reason === 'content_filter') throw new ModelRefusal(`${label} refused (finish_reason content_filter)`);
  if (message.refusal) throw new ModelRefusal(`${label} refused: ${String(message.refusal).slice(0, 200)}`);
  const toolCalls: ToolCall[] = (message.tool_calls ?? []).map((c, i) => {
    const name = c?.function?.name;
    if (!name) throw malformed(label, `tool_calls[${i}] has no function name`);
    return toolCallFromJsonArguments(c.id || newToolCallId(), name, c.function?.arguments);
  });
  const content = message.content;
  const text = typeof content === 'string' ? content : Array.isArray(content) ? content.map((p) => (typeof p?.text === 'string' ? p.text : '')).join('') : '';
  return {
    text,
    toolCalls,
    usage: { inputTokens: body.usage?.prompt_tokens ?? 0, outputTokens: body.usage?.completion_tokens ?? 0 },
    finishReason: normalizeFinishReason(choice.finish_reason),
    model: body.model ?? model,
  };
}

/** What the OpenAI client needs besides its config. */
export interface OpenAIDeps {
  /** Sent as `Authorization: Bearer …`; none for servers without auth (a local Ollama). */
  apiKey?: string;
  fetchImpl?: FetchLike;
}

/** A Chat Completions client. One `complete` is one request: no retries here (the state machine owns them). */
export function createOpenAIProvider(config: ModelConfig, deps: OpenAIDeps = {}): ModelProvider {
  const base = (config.baseUrl ?? OPENAI_DEFAULT_BASE_URL).replace(/\/+$/, '');
  const tokensField = maxTokensField(base);
  const label = `openai ${config.model}`;
  return {
    provider: 'openai',
    model: config.model,
    async complete(request: ModelRequest): Promise<ModelResponse> {
      const body = {
        model: config.model,
        messages: toOpenAIMessages(request.system, request.messages),
        ...(request.tools.length ? { tools: toOpenAITools(request.tools) } : {}),
        [tokensField]: request.maxOutputTokens,
        ...openAIParams(config),
        ...(request.output ? { response_format: { type: 'json_schema', json_schema: { name: request.output.name, schema: request.output.schema, strict: true } } } : {}),
      };
      const json = await postProviderJson(`${base}/chat/completions`, body, {
        label,
        timeoutMs: config.timeoutMs,
        headers: deps.apiKey ? { Authorization: `Bearer ${deps.apiKey}` } : {},
        fetchImpl: deps.fetchImpl,
        secret: deps.apiKey,
      });
      return fromOpenAIResponse(json, label, config.model);
    },
  };
}
