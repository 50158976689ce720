import type { ModelConfig } from '../../lib/config';
import { ModelRefusal } from '../core/errors';
import type { Message, ModelProvider, ModelRequest, ModelResponse } from '../core/types';
import { type FetchLike, postJson } from '../net/http';
import { classifyProviderResponse, malformed, parseJsonBody, toolCallFromJsonArguments } from './wire';

/** OpenAI Chat Completions with tools; any OpenAI-compatible server (Ollama, vLLM, LiteLLM, Azure-style gateways). */
export const OPENAI_DEFAULT_BASE_URL = 'https://api.openai.com/v1';

interface ChatCompletion {
  choices?: {
    finish_reason?: string;
    message?: { content?: string | null; refusal?: string | null; tool_calls?: { id: string; function: { name: string; arguments?: string } }[] };
  }[];
  usage?: { prompt_tokens?: number; completion_tokens?: number };
  model?: string;
}

export function toOpenAIMessages(system: string | undefined, messages: Message[]): unknown[] {
  const out: unknown[] = system ? [{ role: 'system', content: system }] : [];
  for (const m of messages) {
    if (m.role === 'user') out.push({ role: 'user', content: m.content });
    else if (m.role === 'tool') out.push({ role: 'tool', tool_call_id: m.toolCallId, content: m.content });
    else {
      out.push({
        role: 'assistant',
        content: m.content || null,
        ...(m.toolCalls.length
          ? {
              tool_calls: m.toolCalls.map((c) => ({
                id: c.id,
                type: 'function',
                function: { name: c.name, arguments: typeof c.arguments === 'string' ? c.arguments : JSON.stringify(c.arguments ?? {}) },
              })),
            }
          : {}),
      });
    }
  }
  return out;
}

export function createOpenAIProvider(config: ModelConfig, deps: { apiKey?: string; fetchImpl?: FetchLike } = {}): ModelProvider {
  const base = (config.baseUrl ?? OPENAI_DEFAULT_BASE_URL).replace(/\/+$/, '');
  const label = `openai ${config.model}`;
  return {
    provider: 'openai',
    model: config.model,
    async complete(request: ModelRequest): Promise<ModelResponse> {
      const body = {
        model: config.model,
        messages: toOpenAIMessages(request.system, request.messages),
        ...(request.tools.length
          ? { tools: request.tools.map((t) => ({ type: 'function', function: { name: t.name, description: t.description, parameters: t.parameters } })) }
          : {}),
        max_tokens: request.maxOutputTokens,
      };
      const res = await postJson(`${base}/chat/completions`, body, {
        timeoutMs: config.timeoutMs,
        headers: deps.apiKey ? { Authorization: `Bearer ${deps.apiKey}` } : {},
        fetchImpl: deps.fetchImpl,
        label,
      });
      classifyProviderResponse(res, label);
      const json = parseJsonBody<ChatCompletion>(res, label);
      const choice = json.choices?.[0];
      if (!choice?.message) throw malformed(label, 'no choices[0].message');
      if (choice.finish_reason === 'content_filter' || choice.message.refusal) {
        throw new ModelRefusal(`${label} refused: ${choice.message.refusal ?? 'content_filter'}`);
      }
      const toolCalls = (choice.message.tool_calls ?? []).map((c) => toolCallFromJsonArguments(c.id, c.function?.name, c.function?.arguments));
      return {
        text: choice.message.content ?? '',
        toolCalls,
        usage: { inputTokens: json.usage?.prompt_tokens ?? 0, outputTokens: json.usage?.completion_tokens ?? 0 },
        finishReason: choice.finish_reason ?? 'unknown',
        model: json.model ?? config.model,
      };
    },
  };
}
