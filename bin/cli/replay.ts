import { readFileSync } from 'node:fs';
import type { RecordedRun } from '../../lambdas/core/replay';
import { parseTraceEvent } from '../../lambdas/core/trace';
import type { RunView } from '../../lambdas/core/types';
import { callApi } from './client';
import { type CliCommand, UsageError } from './common';
import { withApi } from './local';

/** `agent replay <runId> | --file trace.json`: exit 0 when the path matched, 1 when it diverged (and where). */
export const replayCommand: CliCommand = {
  usage: 'replay <runId>         re-run a recorded run offline from its trace (or --file trace.json); exit 1 if the path diverged',
  async run({ config, positionals, values }) {
    let recorded: RecordedRun;
    if (typeof values.file === 'string') {
      const file = JSON.parse(readFileSync(values.file, 'utf8')) as { run?: RecordedRun['run']; events?: unknown };
      if (!file.run || !Array.isArray(file.events))
        throw new UsageError(`${values.file} is not an exported trace: expected {"run": {...}, "events": [...]} (agent trace <id> --export <file>)`);
      recorded = { run: file.run, events: file.events.map(parseTraceEvent) };
    } else {
      const id = positionals[0];
      if (!id) throw new UsageError('agent replay needs a run id or --file <trace.json>');
      recorded = await withApi(values, config, async (target) => {
        const recordingOf = async (runId: string) => {
          const at = `/runs/${encodeURIComponent(runId)}`;
          const run = await callApi<RunView>(target, 'GET', at);
          const { events } = await callApi<{ events: Record<string, unknown>[] }>(target, 'GET', `${at}/trace`);
          return { run, events: events.map(parseTraceEvent) };
        };
        const own = await recordingOf(id);
        if (!own.run.threadId) return own;
        // A thread run was sent its thread's earlier runs (the runs before it): they are replayed as its history.
        const thread = await callApi<{ runs: { runId: string }[] }>(target, 'GET', `/threads/${encodeURIComponent(own.run.threadId)}`);
        const before = thread.runs.map((r) => r.runId);
        const history = [];
        for (const runId of before.slice(0, Math.max(before.indexOf(id), 0))) history.push(await recordingOf(runId));
        return { ...own, history };
      });
    }
    const { replayRun } = await import('../../local/replay');
    const { verdict, replayed } = await replayRun(recorded, config);
    if (values.json) process.stdout.write(`${JSON.stringify({ ...verdict, replayed })}\n`);
    else if (verdict.matched) process.stdout.write(`matched: same calls at every step, ${replayed.status}${replayed.stopReason ? ` (${replayed.stopReason})` : ''}\n`);
    else process.stdout.write(`diverged${verdict.step === null ? '' : ` at step ${verdict.step}`}: ${verdict.reason}\n`);
    return verdict.matched ? 0 : 1;
  },
};
