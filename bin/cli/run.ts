import { resolve } from 'node:path';
import { effectiveBudgets } from '../../lambdas/core/budget';
import { ACTIVE_STATUSES, type RunView } from '../../lambdas/core/types';
import { apiTarget, callApi } from './client';
import { type CliCommand, type CliValues, intOption, UsageError, usdOption } from './common';
import { followRun } from './events';
import { describeEvent, describeStateEvent } from './progress';
import { localSecretsFile } from './serve';

/** `agent run "<prompt>"`: one request, offline, end to end. */
export const runCommand: CliCommand = {
  usage: 'run "<prompt>"         run one request offline, end to end (progress on stderr, answer on stdout)',
  async run({ config, positionals, values }) {
    const prompt = positionals.join(' ');
    if (!prompt.trim()) throw new UsageError('agent run needs a prompt: agent run "What is 12.5% of 3480?"');
    const budgets = {
      maxSteps: intOption('max-steps', values['max-steps']),
      maxTokens: intOption('max-tokens', values['max-tokens']),
      maxCostUsd: usdOption('max-cost-usd', values['max-cost-usd']),
    };
    effectiveBudgets(config.budgets, budgets); // refuse a raise before anything starts
    const progress = (line: string) => process.stderr.write(`${line}\n`);
    if (typeof values.api === 'string') return runRemote(prompt, budgets, values, progress);
    // The engine (and everything it runs) is loaded by the commands that start one only.
    const { LocalEngine } = await import('../../local/engine');
    const engine = await LocalEngine.start({
      config,
      secretsFile: localSecretsFile(resolve('.agent-data')),
      onTrace: (_runId, event) => progress(describeEvent(event)),
      onStateEvent: (_runId, event) => {
        const line = describeStateEvent(event);
        if (line) progress(line);
      },
    });
    try {
      const { run, error } = await engine.run({ input: prompt, budgets });
      // The execution itself failed (e.g. AccessDeniedException: a grant missing from the stack, IAM offline).
      if (error) progress(`execution failed: ${error.name}: ${error.message}`);
      process.stdout.write(values.json ? `${JSON.stringify(run)}\n` : `${run.answer ?? ''}\n`);
      progress(
        `status ${run.status}${run.stopReason ? ` (${run.stopReason})` : ''} · ${run.steps} step(s) · tokens in ${run.usage.inputTokens} / out ${run.usage.outputTokens} · $${(run.usage.costUsd ?? 0).toFixed(4)} · run ${run.runId}`,
      );
      return error ? 1 : 0;
    } finally {
      await engine.close();
    }
  },
};

/** `agent run --api <url> --token <jwt>`: start the run on a deployed stack and follow its events until it ends. */
async function runRemote(prompt: string, budgets: { maxSteps?: number; maxTokens?: number; maxCostUsd?: number }, values: CliValues, progress: (line: string) => void): Promise<number> {
  const target = apiTarget(values);
  const hasBudgets = budgets.maxSteps !== undefined || budgets.maxTokens !== undefined || budgets.maxCostUsd !== undefined;
  const { runId } = await callApi<{ runId: string }>(target, 'POST', '/runs', { input: prompt, ...(hasBudgets ? { budgets } : {}) });
  progress(`run ${runId} started`);
  // The run's events as they happen (GET /runs/{id}/events); polling only for an API without that route.
  const streamed = await followRun(target, runId, (event) => progress(describeEvent(event)));
  if (streamed) {
    process.stdout.write(values.json ? `${JSON.stringify(streamed)}\n` : `${streamed.answer ?? ''}\n`);
    return 0;
  }
  let last = '';
  const deadline = Date.now() + 30 * 60_000;
  for (;;) {
    const run = await callApi<RunView>(target, 'GET', `/runs/${runId}`);
    const line = `status ${run.status} · ${run.steps} step(s)`;
    if (line !== last) {
      progress(line);
      for (const p of run.pendingApprovals ?? []) progress(`  waiting for approval: ${p.name}(${JSON.stringify(p.arguments)}) · agent approve|reject ${runId} --call ${p.toolCallId}`);
    }
    last = line;
    if (!ACTIVE_STATUSES.includes(run.status) || Date.now() > deadline) {
      process.stdout.write(values.json ? `${JSON.stringify(run)}\n` : `${run.answer ?? ''}\n`);
      return 0;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}
