/**
 * Wire-format helpers the providers share: tool-call arguments that may not be JSON, tool-call ids every API accepts,
 * turn merging for the APIs that require alternating roles (Anthropic, Bedrock), loose normalisation of finish
 * reasons, and the "malformed response" error. Transport and HTTP error classification live in ./http.ts.
 */
import { createHash, randomUUID } from 'node:crypto';
import { TransientError } from '../core/errors';
import type { ToolCall } from '../core/types';

/** A response that lacks what the protocol promises (e.g. no choices, no content blocks): transient, retried. */
export function malformed(label: string, what: string): TransientError {
  return new TransientError(`${label} returned a malformed response: ${what}`);
}

/**
 * A tool call whose arguments arrived as a JSON string (OpenAI-compatible servers). Invalid JSON is not thrown: the
 * call keeps the raw string in `arguments` and says why in `argumentsError`, and the runtime answers it with a tool
 * error the model can fix. An empty string means "no arguments" ({}); an object (some compatible servers send one)
 * is taken as is.
 */
export function toolCallFromJsonArguments(id: string, name: string, raw: unknown): ToolCall {
  if (raw === undefined || raw === null) return { id, name, arguments: {} };
  if (typeof raw !== 'string') return { id, name, arguments: raw };
  if (raw.trim() === '') return { id, name, arguments: {} };
  try {
    return { id, name, arguments: JSON.parse(raw) };
  } catch (err) {
    return { id, name, arguments: raw, argumentsError: `not valid JSON: ${(err as Error).message}`.slice(0, 200) };
  }
}

/** Arguments as an object for the APIs that take tool input as an object (Anthropic, Bedrock); anything else is {}. */
export function argumentsObject(args: unknown): Record<string, unknown> {
  return typeof args === 'object' && args !== null && !Array.isArray(args) ? (args as Record<string, unknown>) : {};
}

const ID_PATTERN = /^[a-zA-Z0-9_-]{1,64}$/;

/**
 * A tool-call id the strictest API accepts (Anthropic and Bedrock: `^[a-zA-Z0-9_-]+$`, Bedrock ≤ 64 chars). The
 * history may hold ids minted by another provider (the fallback model reads the primary's conversation), so ids are
 * rewritten deterministically: a tool call and its result always map to the same wire id.
 */
export function wireToolId(id: string): string {
  if (ID_PATTERN.test(id)) return id;
  // Cleaning could map two different ids to one string: a short hash of the original keeps them apart.
  const cleaned = id.replace(/[^a-zA-Z0-9_-]/g, '_');
  const hash = createHash('sha256').update(id).digest('hex').slice(0, 8);
  return `${cleaned.slice(0, 55)}_${hash}`;
}

/** A fresh tool-call id, for servers that send tool calls without one. */
export function newToolCallId(): string {
  return `call_${randomUUID().replace(/-/g, '').slice(0, 24)}`;
}

/**
 * Merges consecutive turns of the same role into one (their content blocks concatenated), as the APIs with strictly
 * alternating roles require: the tool results of one step become one user message, and a user message that follows
 * tool results joins them (tool results first, as Anthropic requires). Turns without content are dropped.
 */
export function mergeTurns<R extends string, B>(turns: { role: R; content: B[] }[]): { role: R; content: B[] }[] {
  const out: { role: R; content: B[] }[] = [];
  for (const turn of turns) {
    if (turn.content.length === 0) continue;
    const last = out.at(-1);
    if (last && last.role === turn.role) last.content = [...last.content, ...turn.content];
    else out.push({ role: turn.role, content: [...turn.content] });
  }
  return out;
}

const FINISH_REASONS: Record<string, string> = {
  // OpenAI
  stop: 'stop',
  tool_calls: 'tool_use',
  function_call: 'tool_use',
  length: 'length',
  // Anthropic, Bedrock
  end_turn: 'stop',
  stop_sequence: 'stop',
  tool_use: 'tool_use',
  max_tokens: 'length',
};

/** A provider's finish/stop reason, normalised loosely (as the demo model reports it): stop, tool_use, length, or the provider's own word. */
export function normalizeFinishReason(raw: string | null | undefined): string {
  if (!raw) return 'unknown';
  return FINISH_REASONS[raw] ?? raw;
}
