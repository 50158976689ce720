import { createHash } from 'node:crypto';
import type { ToolCall } from './types';

/** JSON with object keys sorted at every level: key order and whitespace do not change it. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/**
 * The signature of one step's tool calls, for the repetition detector: the calls of a step are a set (order does
 * not matter), each call is its tool name plus canonical arguments. Empty string for a step without tool calls.
 */
export function callSignature(calls: Pick<ToolCall, 'name' | 'arguments'>[]): string {
  if (calls.length === 0) return '';
  const parts = calls.map((c) => canonicalJson({ name: c.name, arguments: c.arguments ?? null })).sort();
  return createHash('sha256').update(parts.join('\n')).digest('hex').slice(0, 32);
}

/**
 * The idempotency key of one tool call of one run: the same on every retry and on resume, sent to external tools as
 * `Idempotency-Key`. The step is part of it because models (the demo one too) may reuse call ids across steps.
 */
export function idempotencyKeyFor(runId: string, step: number, toolCallId: string): string {
  return createHash('sha256').update(`${runId}\u0000${step}\u0000${toolCallId}`).digest('hex').slice(0, 40);
}
