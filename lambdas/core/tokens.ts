import { Tiktoken } from 'js-tiktoken/lite';
import cl100k from 'js-tiktoken/ranks/cl100k_base';
import type { Message, ToolSpec } from './types';

let encoder: Tiktoken | undefined;
const enc = () => {
  encoder ??= new Tiktoken(cl100k);
  return encoder;
};

/** Tokens of a text (cl100k_base: close to every current provider's count for English and code). */
export function countTokens(text: string): number {
  if (!text) return 0;
  return enc().encode(text, [], []).length;
}

/** Per-message framing overhead most chat formats add (role markers, separators). */
const MESSAGE_OVERHEAD = 4;

/** Estimated input tokens of a model call: system prompt, every message, every tool schema. */
export function estimatePromptTokens(input: { system?: string; messages: Message[]; tools: ToolSpec[] }): number {
  let total = 3 + countTokens(input.system ?? '');
  for (const m of input.messages) {
    total += MESSAGE_OVERHEAD + countTokens(m.content);
    if (m.role === 'assistant') {
      for (const c of m.toolCalls) total += MESSAGE_OVERHEAD + countTokens(c.name) + countTokens(JSON.stringify(c.arguments ?? {}));
    }
    if (m.role === 'tool') total += countTokens(m.name);
  }
  for (const t of input.tools) total += MESSAGE_OVERHEAD + countTokens(`${t.name} ${t.description} ${JSON.stringify(t.parameters)}`);
  return total;
}
