import { createHash } from 'node:crypto';
import { assertNever, isLifeEvent, type TraceEvent } from './trace';
import type { RunView } from './types';

/**
 * The trace as Langfuse ingestion events, one to one: the run → trace (userId, sessionId = runId), each model call →
 * generation (model, usage, latency, level ERROR when it failed), each tool call → span, every other event (fallback,
 * breaker, budget, surrender, pause, resume, ...) → event. Ids derive from the run and the event, so a re-export
 * updates instead of duplicating.
 */
export interface IngestionEvent {
  id: string;
  timestamp: string;
  type: 'trace-create' | 'generation-create' | 'span-create' | 'event-create';
  body: Record<string, unknown>;
}

const id = (...parts: (string | number)[]) => createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 32);

export function toLangfuseBatch(run: RunView & { userId: string; input?: string }, events: TraceEvent[]): IngestionEvent[] {
  const traceId = id('trace', run.runId);
  const startedAt = events[0]?.at ?? run.createdAt;
  const out: IngestionEvent[] = [
    {
      id: id('trace-create', run.runId),
      timestamp: startedAt,
      type: 'trace-create',
      body: {
        id: traceId,
        timestamp: startedAt,
        name: 'agent-run',
        userId: run.userId,
        sessionId: run.runId,
        input: run.input ?? events.find((e) => e.type === 'run_started')?.input ?? null,
        output: run.answer,
        tags: [run.status, ...(run.stopReason ? [run.stopReason] : [])],
        metadata: { runId: run.runId, status: run.status, stopReason: run.stopReason, steps: run.steps, degraded: run.degraded, usage: run.usage },
      },
    },
  ];
  events.forEach((e, i) => {
    out.push(ingestionOf(e, { traceId, eventId: id(run.runId, e.type === 'unrecognized' ? e.storedType : e.type, e.step, i) }));
  });
  return out;
}

/** Why an event is worth a look in Langfuse: ERROR for a failed call, WARNING for a degradation or a stop. */
const WARNING_KINDS: readonly TraceEvent['type'][] = ['fallback', 'breaker', 'surrender', 'budget'];

/** One trace event as one ingestion event: a model call → generation, a tool call → span, any other kind → event. */
function ingestionOf(e: TraceEvent, ids: { traceId: string; eventId: string }): IngestionEvent {
  const { traceId, eventId } = ids;
  if (isLifeEvent(e)) return annotation(e, e.type, ids);
  const end = e.at;
  switch (e.type) {
    case 'model_call': {
      const { usage, error } = e;
      const start = new Date(Date.parse(end) - e.latencyMs).toISOString();
      return {
        id: id('generation', eventId),
        timestamp: end,
        type: 'generation-create',
        body: {
          id: eventId,
          traceId,
          name: `step ${e.step} model (${e.tier})`,
          startTime: start,
          endTime: end,
          model: `${e.provider}/${e.model}`,
          input: e.input ?? null,
          output: e.output ?? null,
          ...(usage
            ? { usage: { input: usage.inputTokens ?? 0, output: usage.outputTokens ?? 0, unit: 'TOKENS', ...(typeof e.costUsd === 'number' ? { totalCost: e.costUsd } : {}) } }
            : {}),
          // Langfuse's cost fields (USD): our price table's cost, so Langfuse does not re-price the call.
          ...(typeof e.costUsd === 'number' ? { costDetails: { total: e.costUsd } } : {}),
          level: error ? 'ERROR' : 'DEFAULT',
          ...(error ? { statusMessage: `${error.name}: ${error.message}` } : {}),
          metadata: { step: e.step, tier: e.tier, finishReason: e.finishReason ?? null, maxOutputTokens: e.maxOutputTokens ?? null },
        },
      };
    }
    case 'tool_call': {
      const { error } = e;
      const start = new Date(Date.parse(end) - e.latencyMs).toISOString();
      return {
        id: id('span', eventId),
        timestamp: end,
        type: 'span-create',
        body: {
          id: eventId,
          traceId,
          name: `step ${e.step} tool ${e.name}`,
          startTime: start,
          endTime: end,
          input: e.arguments ?? null,
          output: e.result ?? null,
          level: error || e.isError ? 'ERROR' : 'DEFAULT',
          ...(error ? { statusMessage: `${error.name}: ${error.message}` } : {}),
          metadata: { step: e.step, toolCallId: e.toolCallId, idempotencyKey: e.idempotencyKey },
        },
      };
    }
    case 'context_compacted':
      return annotation(e, e.type, ids);
    // A kind this version does not know: exported under the name it was stored with.
    case 'unrecognized':
      return annotation({ ...e.fields, at: e.at, step: e.step }, e.storedType, ids);
    default:
      return assertNever(e);
  }
}

/** Any other kind: a Langfuse event named by the kind, its fields as metadata. */
function annotation(e: { at: string; step: number }, name: string, { traceId, eventId }: { traceId: string; eventId: string }): IngestionEvent {
  const { type: _type, at, step, ...rest }: { type?: unknown; at: string; step: number; error?: unknown } = e;
  const level = rest.error ? 'ERROR' : (WARNING_KINDS as readonly string[]).includes(name) ? 'WARNING' : 'DEFAULT';
  return { id: id('event', eventId), timestamp: at, type: 'event-create', body: { id: eventId, traceId, name, startTime: at, level, metadata: { step, ...rest } } };
}
