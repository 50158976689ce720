import { encode } from 'gpt-tokenizer/encoding/cl100k_base';
import type { Message, ToolSpec } from './types';

/**
 * Special-token strings in a text (`<|endoftext|>`…) are counted as the text they are, never refused: a prompt or a
 * tool output may contain them.
 */
const AS_TEXT = { allowedSpecial: new Set<string>(), disallowedSpecial: new Set<string>() };

/**
 * BPE is quadratic in the length of a run without spaces (a 10 KB base64 blob or a line of dashes would take
 * seconds): such runs are encoded in 64-character pieces (at most one extra token per cut, so the estimate errs
 * high); ordinary text in pieces of 4 KB.
 */
const LONG_RUN = /\S{64,}/g;
const RUN_PIECE = 64;
const TEXT_PIECE = 4096;

const encodeLength = (text: string, piece: number) => {
  let n = 0;
  for (let i = 0; i < text.length; i += piece) n += encode(text.slice(i, i + piece), AS_TEXT).length;
  return n;
};

/**
 * Counts of long texts, kept per container: the estimate before each model call (and the context compaction's trials,
 * lambdas/core/context.ts) re-count the same stored messages every step, and a 2 KB tool result costs ~1 ms to
 * encode. Bounded: cleared when it holds MEMO_ENTRIES texts.
 */
const memo = new Map<string, number>();
const MEMO_MIN_CHARS = 256;
const MEMO_ENTRIES = 1024;

/** Tokens of a text (cl100k_base: close to every current provider's count for English and code). */
export function countTokens(text: string): number {
  if (!text) return 0;
  if (text.length < MEMO_MIN_CHARS) return encodeText(text);
  const known = memo.get(text);
  if (known !== undefined) return known;
  const n = encodeText(text);
  if (memo.size >= MEMO_ENTRIES) memo.clear();
  memo.set(text, n);
  return n;
}

function encodeText(text: string): number {
  let total = 0;
  let last = 0;
  for (const run of text.matchAll(LONG_RUN)) {
    total += encodeLength(text.slice(last, run.index), TEXT_PIECE) + encodeLength(run[0], RUN_PIECE);
    last = run.index + run[0].length;
  }
  return total + encodeLength(text.slice(last), TEXT_PIECE);
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
