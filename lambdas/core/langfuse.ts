import { createHash } from 'node:crypto';
import type { RunView, TraceEvent } from './types';

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
    const end = e.at;
    const start = typeof e.latencyMs === 'number' ? new Date(Date.parse(end) - e.latencyMs).toISOString() : end;
    const error = e.error as { name?: string; message?: string } | undefined;
    const level = error ? 'ERROR' : e.type === 'fallback' || e.type === 'breaker' || e.type === 'surrender' || e.type === 'budget' ? 'WARNING' : 'DEFAULT';
    const eventId = id(run.runId, e.type, e.step, i);
    if (e.type === 'model_call') {
      const usage = e.usage as { inputTokens?: number; outputTokens?: number } | undefined;
      out.push({
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
          ...(usage ? { usage: { input: usage.inputTokens ?? 0, output: usage.outputTokens ?? 0, unit: 'TOKENS', ...(typeof e.costUsd === 'number' ? { totalCost: e.costUsd } : {}) } } : {}),
          // Langfuse's cost fields (USD): our price table's cost, so Langfuse does not re-price the call.
          ...(typeof e.costUsd === 'number' ? { costDetails: { total: e.costUsd } } : {}),
          level,
          ...(error ? { statusMessage: `${error.name}: ${error.message}` } : {}),
          metadata: { step: e.step, tier: e.tier, finishReason: e.finishReason ?? null, maxOutputTokens: e.maxOutputTokens ?? null },
        },
      });
    } else if (e.type === 'tool_call') {
      out.push({
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
      });
    } else {
      const { type, at: _at, step, ...rest } = e;
      out.push({ id: id('event', eventId), timestamp: end, type: 'event-create', body: { id: eventId, traceId, name: type, startTime: end, level, metadata: { step, ...rest } } });
    }
  });
  return out;
}
