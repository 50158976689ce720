/**
 * Anthropic Messages API with tools. `baseUrl` is the API root WITHOUT the version segment, e.g.
 * `https://api.anthropic.com` (the default): the client posts to `{baseUrl}/v1/messages`, as Anthropic's own SDKs
 * do with their base URL. Headers: `x-api-key`, `anthropic-version: 2023-06-01`.
 */
import type { ModelConfig } from '../core/config';
import { ModelRefusal } from '../core/errors';
import { REASONING_BUDGETS } from '../core/model-params';
import type { Message, ModelProvider, ModelRequest, ModelResponse, ToolCall, ToolSpec } from '../core/types';
import { type FetchLike, postProviderJson } from './provider-http';
import { argumentsObject, malformed, mergeTurns, normalizeFinishReason, wireToolId } from './wire';

export const ANTHROPIC_DEFAULT_BASE_URL = 'https://api.anthropic.com';
export const ANTHROPIC_VERSION = '2023-06-01';

/** A content block as the Messages API takes it. */
export type AnthropicBlock =
  | { type: 'text'; text: string }
  | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> }
  | { type: 'tool_result'; tool_use_id: string; content: string; is_error?: boolean }
  | { type: 'thinking'; thinking: string; signature: string }
  | { type: 'redacted_thinking'; data: string };

export interface AnthropicMessage {
  role: 'user' | 'assistant';
  content: AnthropicBlock[];
}

interface MessagesResponse {
  model?: string;
  content?: { type?: string; text?: string; id?: string; name?: string; input?: unknown }[];
  stop_reason?: string | null;
  usage?: { input_tokens?: number; output_tokens?: number };
}

/**
 * The conversation in Messages form. Roles must alternate, so consecutive turns of one role are merged: the tool
 * results of one step travel in one user message. Empty text blocks (which the API rejects) are left out.
 */
export function toAnthropicMessages(messages: Message[]): AnthropicMessage[] {
  const text = (t: string): AnthropicBlock[] => (t ? [{ type: 'text', text: t }] : []);
  return mergeTurns<'user' | 'assistant', AnthropicBlock>(
    messages.map((m): AnthropicMessage => {
      if (m.role === 'user') return { role: 'user', content: text(m.content) };
      if (m.role === 'tool') {
        return { role: 'user', content: [{ type: 'tool_result', tool_use_id: wireToolId(m.toolCallId), content: m.content, ...(m.isError ? { is_error: true } : {}) }] };
      }
      return {
        role: 'assistant',
        content: [
          // Extended thinking: the turn's thinking blocks go back first, unchanged (Anthropic checks their signatures).
          ...(m.reasoning?.provider === 'anthropic' ? (m.reasoning.blocks as AnthropicBlock[]) : []),
          ...text(m.content),
          ...m.toolCalls.map((c): AnthropicBlock => ({ type: 'tool_use', id: wireToolId(c.id), name: c.name, input: argumentsObject(c.arguments) })),
        ],
      };
    }),
  );
}

/** Tools in Messages form. */
export function toAnthropicTools(tools: ToolSpec[]): { name: string; description: string; input_schema: Record<string, unknown> }[] {
  return tools.map((t) => ({ name: t.name, description: t.description, input_schema: t.parameters }));
}

/** The tool the final answer is given through when a schema is asked for (Anthropic has no JSON mode). */
export function outputTool(output: { schema: Record<string, unknown>; name: string }): { name: string; description: string; input_schema: Record<string, unknown> } {
  return { name: output.name, description: 'Give your final answer through this tool, as its input, once you have what you need.', input_schema: output.schema };
}

/** The thinking budget of a reasoning effort, within the call's output cap (none when the cap leaves no room for it). */
export function thinkingBudget(effort: keyof typeof REASONING_BUDGETS | undefined, maxOutputTokens: number): number | undefined {
  if (!effort) return undefined;
  const budget = Math.min(REASONING_BUDGETS[effort], maxOutputTokens - 1);
  return budget >= REASONING_BUDGETS.low ? budget : undefined;
}

/** The model parameters and structured output of a request in Messages form. */
export function anthropicParams(
  config: Pick<ModelConfig, 'temperature' | 'topP' | 'stopSequences' | 'reasoningEffort'>,
  request: Pick<ModelRequest, 'maxOutputTokens' | 'output'>,
): Record<string, unknown> {
  const budget = thinkingBudget(config.reasoningEffort, request.maxOutputTokens);
  return {
    ...(config.temperature !== undefined && budget === undefined ? { temperature: config.temperature } : {}),
    ...(config.topP !== undefined ? { top_p: config.topP } : {}),
    ...(config.stopSequences ? { stop_sequences: config.stopSequences } : {}),
    ...(budget !== undefined ? { thinking: { type: 'enabled', budget_tokens: budget } } : {}),
    // The answer must come through a tool (its own or the output tool); extended thinking allows only "auto".
    ...(request.output ? { tool_choice: { type: budget === undefined ? 'any' : 'auto' } } : {}),
  };
}

/** Reads a Messages response; throws ModelRefusal (stop_reason refusal) or TransientError (malformed). */
export function fromAnthropicResponse(json: unknown, label: string, model: string, outputName?: string): ModelResponse {
  const body = (typeof json === 'object' && json !== null ? json : {}) as MessagesResponse;
  if (body.stop_reason === 'refusal') throw new ModelRefusal(`${label} refused (stop_reason refusal)`);
  if (!Array.isArray(body.content)) throw malformed(label, 'no content blocks');
  const toolCalls: ToolCall[] = [];
  let text = '';
  let output: string | undefined;
  const reasoning: unknown[] = [];
  for (const [i, block] of body.content.entries()) {
    if (block?.type === 'thinking' || block?.type === 'redacted_thinking') reasoning.push(block);
    else if (block?.type === 'text' && typeof block.text === 'string') text += block.text;
    else if (block?.type === 'tool_use') {
      if (!block.id || !block.name) throw malformed(label, `content[${i}] tool_use has no id or name`);
      if (outputName !== undefined && block.name === outputName) {
        output = JSON.stringify(block.input ?? {});
        continue;
      }
      toolCalls.push({ id: block.id, name: block.name, arguments: block.input ?? {} });
    }
  }
  // The final answer came through the output tool: it is the answer (JSON), and the other calls are dropped.
  if (output !== undefined) return { text: output, toolCalls: [], usage: usageOf(body), finishReason: 'stop', model: body.model ?? model };
  return {
    text,
    toolCalls,
    usage: usageOf(body),
    finishReason: normalizeFinishReason(body.stop_reason),
    model: body.model ?? model,
    ...(reasoning.length ? { reasoning: { provider: 'anthropic', blocks: reasoning } } : {}),
  };
}

const usageOf = (body: MessagesResponse) => ({ inputTokens: body.usage?.input_tokens ?? 0, outputTokens: body.usage?.output_tokens ?? 0 });

/** What the Anthropic client needs besides its config. */
export interface AnthropicDeps {
  /** Sent as `x-api-key`. */
  apiKey?: string;
  fetchImpl?: FetchLike;
}

/** A Messages API client. One `complete` is one request: no retries here (the state machine owns them). */
export function createAnthropicProvider(config: ModelConfig, deps: AnthropicDeps = {}): ModelProvider {
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
        ...(request.tools.length || request.output ? { tools: [...toAnthropicTools(request.tools), ...(request.output ? [outputTool(request.output)] : [])] } : {}),
        ...anthropicParams(config, request),
      };
      const json = await postProviderJson(`${base}/v1/messages`, body, {
        label,
        timeoutMs: config.timeoutMs,
        headers: { 'anthropic-version': ANTHROPIC_VERSION, ...(deps.apiKey ? { 'x-api-key': deps.apiKey } : {}) },
        fetchImpl: deps.fetchImpl,
        secret: deps.apiKey,
      });
      return fromAnthropicResponse(json, label, config.model, request.output?.name);
    },
  };
}
