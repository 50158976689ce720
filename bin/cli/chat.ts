import { createInterface } from 'node:readline';
import { parseTraceEvent } from '../../lambdas/core/trace';
import type { RunView } from '../../lambdas/core/types';
import { type ApiTarget, apiTarget, callApi } from './client';
import type { CliCommand } from './common';
import { followRun } from './events';
import { describeEvent } from './progress';
import { timeline } from './remote';

/** The commands of the chat, after a slash. */
export const CHAT_HELP = 'commands: /new (a new thread), /cost (the thread’s usage), /trace (the last run’s trace), /quit';

interface ThreadView {
  threadId: string;
  usage: { inputTokens: number; outputTokens: number; costUsd: number };
  runs: RunView[];
}

/**
 * `agent chat [--thread <id>] [--api <url>]`: a conversation on a thread, one run per line typed. Progress lines come
 * from the run's event stream (stderr), the answer goes to stdout. Against the local server (`npm start`) unless
 * --api names a deployed stack.
 */
export const chatCommand: CliCommand = {
  usage: 'chat [--thread <id>]   a conversation on a thread (/new, /cost, /trace, /quit); local server, or --api <url>',
  async run({ values }) {
    const target = apiTarget(values);
    const out = (line: string) => process.stdout.write(`${line}\n`);
    const info = (line: string) => process.stderr.write(`${line}\n`);
    const newThread = async () => (await callApi<{ threadId: string }>(target, 'POST', '/threads', {})).threadId;
    let threadId = typeof values.thread === 'string' ? values.thread : await newThread();
    // An unknown or someone else's thread is refused here, before the first question.
    await callApi<ThreadView>(target, 'GET', `/threads/${encodeURIComponent(threadId)}`);
    info(`thread ${threadId} · ${CHAT_HELP}`);
    let lastRunId: string | undefined;
    const lines = createInterface({ input: process.stdin, terminal: false });
    const prompt = () => {
      if (process.stdin.isTTY) process.stderr.write('> ');
    };
    prompt();
    for await (const raw of lines) {
      const line = raw.trim();
      if (line === '/quit' || line === '/exit') break;
      if (line === '') {
        prompt();
        continue;
      }
      if (line === '/new') {
        threadId = await newThread();
        lastRunId = undefined;
        info(`thread ${threadId}`);
      } else if (line === '/cost') {
        const t = await callApi<ThreadView>(target, 'GET', `/threads/${encodeURIComponent(threadId)}`);
        out(`thread ${t.threadId}: ${t.runs.length} run(s) · tokens in ${t.usage.inputTokens} / out ${t.usage.outputTokens} · $${t.usage.costUsd.toFixed(4)}`);
      } else if (line === '/trace') {
        if (!lastRunId) out('(no run yet on this thread in this chat)');
        else out(timeline((await callApi<{ events: Record<string, unknown>[] }>(target, 'GET', `/runs/${lastRunId}/trace`)).events.map(parseTraceEvent)));
      } else if (line.startsWith('/')) {
        info(`unknown command ${line}; ${CHAT_HELP}`);
      } else {
        lastRunId = await ask(target, threadId, line, out, info);
      }
      prompt();
    }
    lines.close();
    return 0;
  },
};

/** One question on the thread: the run started, its progress followed on the event stream, its answer printed. */
async function ask(target: ApiTarget, threadId: string, input: string, out: (l: string) => void, info: (l: string) => void): Promise<string> {
  const { runId } = await callApi<{ runId: string }>(target, 'POST', `/threads/${encodeURIComponent(threadId)}/runs`, { input });
  const run = (await followRun(target, runId, (e) => info(`  ${describeEvent(e)}`))) ?? (await callApi<RunView>(target, 'GET', `/runs/${runId}`));
  out(run.answer ?? `(no answer: the run is ${run.status})`);
  if (run.status !== 'SUCCEEDED') info(`  status ${run.status}${run.stopReason ? ` (${run.stopReason})` : ''}`);
  return runId;
}
