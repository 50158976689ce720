import { createHash } from 'node:crypto';
import type { StoredMessage } from '../core/ports';
import { parseTraceEvent } from '../core/trace';
import { truncateUtf8 } from '../core/truncate';
import { ACTIVE_STATUSES, type Message, type RunStatus, type StopReason, type TraceEvent, type Usage } from '../core/types';

/**
 * The agent table's items as the run store writes and reads them: the item size budget (texts cut, never dropped),
 * the keys stripped on reading, a message's trace event parsed back into the union, conditions shared by writes.
 */

/** A run still under way, as a condition: `#status IN (${ACTIVE_IN})` with {@link ACTIVE_VALUES}. */
export const ACTIVE_VALUES = Object.fromEntries(ACTIVE_STATUSES.map((status, i) => [`:active${i}`, status]));
export const ACTIVE_IN = Object.keys(ACTIVE_VALUES).join(', ');

/**
 * DynamoDB items are capped at 400 KB in UTF-8 bytes: longer texts are cut (in bytes, on a character boundary) with
 * a visible marker, never dropped silently. A message or a trace event is an item of its own (one text of at most
 * MAX_TEXT_BYTES); the run item holds both the input and the answer, so they share one budget with room to spare
 * for the rest of the run (usage, degradations, approvals): 100 KB + 200 KB + the marker < 400 KB.
 */
export const MAX_TEXT_BYTES = 300_000;
export const MAX_INPUT_BYTES = 100_000;
export const MAX_ANSWER_BYTES = 200_000;
export function clampText(text: string, max = MAX_TEXT_BYTES): string {
  return truncateUtf8(text, max);
}

export function clampMessage(m: Message): Message {
  return { ...m, content: clampText(m.content) } as Message;
}

export const isConditionFailure = (err: unknown) => (err as { name?: string }).name === 'ConditionalCheckFailedException';

export function idempotencyPk(userId: string, key: string): string {
  return `IDEM#${createHash('sha256').update(`${userId}\u0000${key}`).digest('hex')}`;
}

export function stripKeys<T>(item: Record<string, unknown>): T {
  const { pk: _pk, sk: _sk, ...rest } = item;
  return rest as T;
}

/**
 * An event as it is stored: as written, or, past the item's text budget, its envelope with `truncated: true` and its
 * bulky fields cut to a marked excerpt (a cut field is a string then: readers show it as it is).
 */
export function clampEvent(event: TraceEvent): TraceEvent {
  const json = JSON.stringify(event);
  if (Buffer.byteLength(json, 'utf8') <= MAX_TEXT_BYTES) return event;
  const out: Record<string, unknown> = { type: event.type, at: event.at, step: event.step, truncated: true };
  for (const [k, v] of Object.entries(event)) {
    if (k in out) continue;
    const s = typeof v === 'string' ? v : JSON.stringify(v);
    out[k] = s && s.length > 20_000 ? clampText(s, 20_000) : v;
  }
  return parseTraceEvent(out);
}

/** A message item as read back: its event not yet parsed. */
export type StoredItem = Omit<StoredMessage, 'event'> & { event?: Record<string, unknown> };

/** A message item read back, the trace event it carries parsed into the union (the store boundary). */
export function storedMessageOf({ event, ...m }: StoredItem): StoredMessage {
  return { ...m, ...(event ? { event: parseTraceEvent(event) } : {}) };
}

/** A run's terminal write: its status, answer, stop reason and (structured output) parsed output. */
export type FinalResult = { status: RunStatus; answer: string; stopReason: StopReason | null; output?: unknown; usage?: Usage; costMicros?: number };

/** What a conditional run update requires of the run: its status, and optionally its resume count and no pause asked. */
export interface RunCondition {
  statusIn: RunStatus[];
  /** The run's `resumes` is this (absent counts as 0): one winner among concurrent resumes. */
  resumes?: number;
  /** No pause is requested yet: one winner among concurrent pauses. */
  notPauseRequested?: boolean;
}

/** The condition expression of a conditional run update (`attribute_exists(pk)` alone without one); fills `names` and `values`. */
export function runConditionExpression(condition: RunCondition | undefined, names: Record<string, string>, values: Record<string, unknown>): string {
  let expression = 'attribute_exists(pk)';
  if (!condition) return expression;
  names['#cs'] = 'status';
  const keys = condition.statusIn.map((s, i) => {
    values[`:cs${i}`] = s;
    return `:cs${i}`;
  });
  expression += ` AND #cs IN (${keys.join(', ')})`;
  if (condition.resumes !== undefined) {
    names['#cr'] = 'resumes';
    values[':cr'] = condition.resumes;
    expression += condition.resumes === 0 ? ' AND (attribute_not_exists(#cr) OR #cr = :cr)' : ' AND #cr = :cr';
  }
  if (condition.notPauseRequested) {
    names['#cp'] = 'pauseRequested';
    values[':cp'] = true;
    expression += ' AND (attribute_not_exists(#cp) OR #cp <> :cp)';
  }
  return expression;
}
