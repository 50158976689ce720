import type { StoredMessage } from './ports';
import { assertNever, isLifeEvent } from './trace';
import type { Message, TraceEvent } from './types';

/**
 * Trace events reference the messages they are about instead of copying them (a 10 KB tool output is written
 * once, in its message):
 * - `tool_call`: `resultRef: {step, seq}` (the tool message) instead of `result`;
 * - `model_call`: `input.lastRef` (the last message the model was sent) instead of `input.last`, and
 *   `outputRef: {step, seq: 0}` (the assistant message) instead of `output`.
 * The events of a model call and of a tool call are stored inside their message's item (one write for both).
 * {@link resolveTrace} joins them back: the trace the API, the viewer, the replay and the export read has the same
 * fields as before. Traces recorded with the content inline pass through unchanged.
 */
export interface MessageRef {
  step: number;
  seq: number;
}

export const refOf = (m: { step: number; seq: number } | undefined): MessageRef | null => (m ? { step: m.step, seq: m.seq } : null);

const keyOf = (r: MessageRef) => `${r.step}#${r.seq}`;
const isRef = (v: unknown): v is MessageRef => typeof v === 'object' && v !== null && typeof (v as MessageRef).step === 'number' && typeof (v as MessageRef).seq === 'number';

/** The events of a run in order (the stored events and those kept in message items), their references resolved. */
export function resolveTrace(events: TraceEvent[], messages: StoredMessage[]): TraceEvent[] {
  const byKey = new Map(messages.map((m) => [keyOf(m), m.message] as const));
  const embedded = messages.flatMap((m) => (m.event ? [m.event] : []));
  const all = [...events, ...embedded].map((e, i) => ({ e, i }));
  // By time; the stored order breaks ties (a stable sort).
  all.sort((a, b) => (a.e.at < b.e.at ? -1 : a.e.at > b.e.at ? 1 : a.i - b.i));
  return all.map(({ e }) => resolveEvent(e, byKey));
}

function resolveEvent(event: TraceEvent, byKey: Map<string, Message>): TraceEvent {
  if (isLifeEvent(event)) return { ...event };
  switch (event.type) {
    case 'tool_call': {
      if (!isRef(event.resultRef) || event.result !== undefined) return { ...event };
      const m = byKey.get(keyOf(event.resultRef));
      return { ...event, result: m ? m.content : null };
    }
    case 'model_call': {
      const out = { ...event };
      const input = event.input;
      if (input && typeof input === 'object' && 'lastRef' in input && input.last === undefined) {
        out.input = { ...input, last: isRef(input.lastRef) ? (byKey.get(keyOf(input.lastRef)) ?? null) : null };
      }
      if (isRef(event.outputRef) && event.output === undefined) {
        const m = byKey.get(keyOf(event.outputRef));
        out.output = m?.role === 'assistant' ? { text: m.content, toolCalls: m.toolCalls } : null;
      }
      return out;
    }
    // No other kind references a message.
    case 'context_compacted':
    case 'unrecognized':
      return { ...event };
    default:
      return assertNever(event);
  }
}
