import type { ModelConfig } from '../../lib/config';
import { ModelRefusal } from '../core/errors';
import type { Message, ModelProvider, ModelRequest, ModelResponse, ToolCall } from '../core/types';
import { type FetchLike, postJson } from '../net/http';
import { classifyProviderResponse, malformed, parseJsonBody } from './wire';

/** Anthropic Messages API with tools. `baseUrl` is the API root (the provider posts to {baseUrl}/v1/messages). */
export const ANTHROPIC_DEFAULT_BASE_URL = 'https://api.anthropic.com';
export const ANTHROPIC_VERSION = '2023-06-01';

interface MessagesResponse {
  content?: ({ type: 'text'; text: string } | { type: 'tool_use'; id: string; name: string; input: unknown } | { type: string })[];
  stop_reason?: string;
  usage?: { input_tokens?: number; output_tokens?: number };
  model?: string;
}

type Block = Record<string, unknown>;

/** Maps the conversation; consecutive tool results go into one user message, as the API requires. */
export function toAnthropicMessages(messages: Message[]): { role: 'user' | 'assistant'; content: string | Block[] }[] {
  const out: { role: 'user' | 'assistant'; content: string | Block[] }[] = [];
  for (const m of messages) {
    if (m.role === 'user') out.push({ role: 'user', content: m.content });
    else if (m.role === 'assistant') {
      const blocks: Block[] = m.content ? [{ type: 'text', text: m.content }] : [];
      for (const c of m.toolCalls) blocks.push({ type: 'tool_use', id: c.id, name: c.name, input: typeof c.arguments === 'object' && c.arguments ? c.arguments : {} });
      out.push({ role: 'assistant', content: blocks.length ? blocks : [{ type: 'text', text: '' }] });
    } else {
      const result: Block = { type: 'tool_result', tool_use_id: m.toolCallId, content: m.content, ...(m.isError ? { is_error: true } : {}) };
      const last = out.at(-1);
      if (last?.role === 'user' && Array.isArray(last.content) && last.content.every((b) => b.type === 'tool_result')) last.content.push(result);
      else out.push({ role: 'user', content: [result] });
    }
  }
  return out;
}

export function createAnthropicProvider(config: ModelConfig, deps: { apiKey?: string; fetchImpl?: FetchLike } = {}): ModelProvider {
  const base = (config.baseUrl ?? ANTHROPIC_DEFAULT_BASE_URL).replace(/\/+$/, '');
  const label = `anthropic ${config.model}`;
  return {
    provider: 'anthropic',
    model: config.model,
    async complete(request: ModelRequest): Promise<ModelResponse> {
      const body = {
        model: config.model,
        max_tokens: request.maxOutputTokens,
        ...(request.system ? { system: request.system } : {}),
        messages: toAnthropicMessages(request.messages),
        ...(request.tools.length ? { tools: request.tools.map((t) => ({ name: t.name, description: t.description, input_schema: t.parameters })) } : {}),
      };
      const res = await postJson(`${base}/v1/messages`, body, {
        timeoutMs: config.timeoutMs,
        headers: { 'anthropic-version': ANTHROPIC_VERSION, ...(deps.apiKey ? { 'x-api-key': deps.apiKey } : {}) },
        fetchImpl: deps.fetchImpl,
        label,
      });
      classifyProviderResponse(res, label);
      const json = parseJsonBody<MessagesResponse>(res, label);
      if (!Array.isArray(json.content)) throw malformed(label, 'no content blocks');
      if (json.stop_reason === 'refusal') throw new ModelRefusal(`${label} refused (stop_reason refusal)`);
      const text = json.content.flatMap((b) => (b.type === 'text' ? [(b as { text: string }).text] : [])).join('');
      const toolCalls: ToolCall[] = json.content.flatMap((b) => {
        if (b.type !== 'tool_use') return [];
        const use = b as { id: string; name: string; input: unknown };
        return [{ id: use.id, name: use.name, arguments: use.input ?? {} }];
      });
      return {
        text,
        toolCalls,
        usage: { inputTokens: json.usage?.input_tokens ?? 0, outputTokens: json.usage?.output_tokens ?? 0 },
        finishReason: json.stop_reason ?? 'unknown',
        model: json.model ?? config.model,
      };
    },
  };
}
