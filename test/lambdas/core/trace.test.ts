import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunRepository } from '../../../lambdas/core/ports';
import { assertNever, ofKind, parseTraceEvent, TRACE_EVENT_TYPES, type TraceEvent, type TraceEventDraft, trace } from '../../../lambdas/core/trace';

/**
 * Type-level checks: `npm run typecheck` covers test/, so each `@ts-expect-error` below fails the typecheck when the
 * line after it compiles (a misspelt event field, a kind that does not exist, a field read without narrowing).
 * Never called: only the compiler reads it.
 */
function typeLevelChecks(runs: RunRepository, e: TraceEvent): void {
  // @ts-expect-error a misspelt field of a model_call (latencyMS for latencyMs)
  trace.modelCall({ step: 1, tier: 'primary', provider: 'demo', model: 'default', latencyMS: 3, estimatedPromptTokens: 1 });
  // @ts-expect-error a required field missing (a tool_call's idempotencyKey)
  trace.toolCall({ step: 1, toolCallId: 'c1', name: 'calculator', latencyMs: 1 });
  // @ts-expect-error a misspelt field in an event literal handed to the store
  void runs.appendEvent('r1', { type: 'surrender', step: 1, stopReasn: 'STEP_BUDGET' });
  // @ts-expect-error a kind that does not exist
  const unknownKind: TraceEventDraft = { type: 'model_called', step: 1 };
  // @ts-expect-error a field of one kind read on another without narrowing
  void e.tier;
  if (e.type === 'model_call') void e.tier; // narrowed: fine
  // @ts-expect-error a field of the wrong type (a run_finished status that is not a RunStatus)
  trace.runFinished({ step: 1, status: 'DONE', stopReason: null, usage: { inputTokens: 0, outputTokens: 0 } });
  void unknownKind;
}

describe('the trace event union', () => {
  it('is closed: misspelt fields and unknown kinds fail `npm run typecheck` (typeLevelChecks above, never run)', () => {
    expect(typeLevelChecks).toBeInstanceOf(Function);
  });

  it('each constructor makes an event of its kind, with the fields given', () => {
    expect(trace.paused({ step: 2, pendingToolCalls: 1 })).toEqual({ type: 'paused', step: 2, pendingToolCalls: 1 });
    expect(trace.surrender({ step: 3, stopReason: 'STEP_BUDGET', at: '2026-01-01T00:00:00.000Z' })).toEqual({
      type: 'surrender',
      step: 3,
      stopReason: 'STEP_BUDGET',
      at: '2026-01-01T00:00:00.000Z',
    });
    expect(TRACE_EVENT_TYPES).toHaveLength(new Set(TRACE_EVENT_TYPES).size);
    expect(TRACE_EVENT_TYPES).toEqual(expect.arrayContaining(['run_started', 'model_call', 'tool_call', 'run_finished', 'approval_decided', 'engine_restarted']));
  });

  it('parses a stored event of a known kind into the union, its fields in their stored order', () => {
    const stored = {
      type: 'tool_call',
      step: 1,
      toolCallId: 'c1',
      name: 'calculator',
      idempotencyKey: 'k',
      latencyMs: 4,
      resultRef: { step: 1, seq: 1 },
      at: '2026-01-01T00:00:01.000Z',
    };
    const event = parseTraceEvent(stored);
    expect(event).toEqual(stored);
    expect(Object.keys(event)).toEqual(Object.keys(stored));
    expect([event].filter(ofKind('tool_call'))[0]?.toolCallId).toBe('c1');
  });

  it('keeps a stored event of a kind this version does not know as `unrecognized`, with its fields', () => {
    const event = parseTraceEvent({ type: 'retry_scheduled', step: 2, at: '2026-01-01T00:00:02.000Z', delayMs: 500 });
    expect(event).toEqual({ type: 'unrecognized', at: '2026-01-01T00:00:02.000Z', step: 2, storedType: 'retry_scheduled', fields: { delayMs: 500 } });
    expect(parseTraceEvent({ step: 'x' })).toEqual({ type: 'unrecognized', at: '', step: 0, storedType: 'undefined', fields: {} });
  });

  it('assertNever throws on a value no case handled (only reachable past the compiler, e.g. with a cast)', () => {
    expect(() => assertNever({ type: 'model_called' } as never)).toThrow('unhandled case: {"type":"model_called"}');
  });

  it('the viewer (plain JS) knows exactly the kinds of the union, and describes no other', () => {
    const html = readFileSync(join(__dirname, '../../../lambdas/api/viewer/index.html'), 'utf8');
    const list = /const EVENT_KINDS = (\[[^\]]*\]);/.exec(html)?.[1];
    expect(list).toBeDefined();
    const kinds = JSON.parse((list ?? '[]').replace(/'/g, '"')) as string[];
    expect([...kinds].sort()).toEqual([...TRACE_EVENT_TYPES, 'unrecognized'].sort());
    const describe = html.slice(html.indexOf('function describe(e)'), html.indexOf('async function showRun'));
    const cases = [...describe.matchAll(/case '([a-z_]+)'/g)].map((m) => m[1]);
    expect(cases.length).toBeGreaterThan(5);
    for (const kind of cases) expect(kinds).toContain(kind);
  });
});
