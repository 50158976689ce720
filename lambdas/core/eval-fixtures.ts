import { type EvalCase, EvalCaseSchema, type Fixture, SuiteError } from './eval';
import { canonicalJson } from './signature';
import { ofKind } from './trace';
import type { RunView, ToolCall, ToolContext, ToolResult, TraceEvent } from './types';

/** Tool fixtures of eval cases (docs/evals.md): recorded tool results, and cases made from recorded runs. */

/** The key a tool call is matched by: its name and canonical arguments. */
export const callKey = (name: string, args: unknown): string => `${name}(${canonicalJson(args ?? null)})`;

/**
 * The tool results of a recorded run as fixtures: each completed call's name, arguments and result (a result the
 * run kept after the tool failed through its retries included, as the error the model saw).
 */
export function fixturesFromTrace(events: TraceEvent[]): Fixture[] {
  const out: Fixture[] = [];
  for (const e of events.filter(ofKind('tool_call'))) {
    if (e.discarded || e.error || e.result === undefined || e.result === null) continue;
    out.push({ tool: e.name, ...(e.arguments === undefined ? {} : { arguments: e.arguments }), result: e.result, ...(e.isError ? { isError: true } : {}) });
  }
  return out;
}

/**
 * A case made from a recorded run (`agent eval add`): its input, its tool results as fixtures, its status as the
 * expectation and its answer as `reference`.
 */
export function caseFromRun(run: Pick<RunView, 'runId' | 'status' | 'answer'>, events: TraceEvent[], id?: string): EvalCase {
  const started = events.find(ofKind('run_started'));
  if (!started) throw new SuiteError(`run ${run.runId} has no run_started event in its trace: its input is unknown`);
  return EvalCaseSchema.parse({
    id: id ?? `run-${run.runId}`.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 64),
    input: started.input,
    fixtures: fixturesFromTrace(events),
    reference: run.answer,
    expect: { status: run.status },
  }) as EvalCase;
}

/**
 * Serves tool calls from fixtures for the runs that have them (`fixturesOf(runId)`; undefined: the real tools run).
 * A call matching a fixture gets its result (several fixtures of one call are served in order, the last one
 * repeated); a call matching none is reported to `onMiss` and answered with an error result the model sees, so the
 * run goes on and the case fails naming the call.
 */
export function fixtureToolRunner(
  real: (call: ToolCall, ctx: ToolContext) => Promise<ToolResult>,
  fixturesOf: (runId: string) => Fixture[] | undefined,
  onMiss: (runId: string, call: string) => void,
): (call: ToolCall, ctx: ToolContext) => Promise<ToolResult> {
  const served = new Map<string, Map<string, number>>();
  return async (call, ctx) => {
    const fixtures = fixturesOf(ctx.runId);
    if (!fixtures) return real(call, ctx);
    const key = callKey(call.name, call.arguments);
    const matching = fixtures.filter((f) => callKey(f.tool, f.arguments) === key);
    if (!matching.length) {
      onMiss(ctx.runId, key);
      return { content: `No recorded result for ${key} in this eval case's fixtures.`, isError: true };
    }
    const counts = served.get(ctx.runId) ?? new Map<string, number>();
    served.set(ctx.runId, counts);
    const n = counts.get(key) ?? 0;
    counts.set(key, n + 1);
    const f = matching[Math.min(n, matching.length - 1)] as Fixture;
    return { content: f.result, ...(f.isError ? { isError: true } : {}) };
  };
}
