import { readFileSync } from 'node:fs';
import { effectiveBudgets } from '../../lambdas/core/budget';
import { MAX_OUTPUT_SCHEMA_BYTES, schemaProblem } from '../../lambdas/core/output';
import { ACTIVE_STATUSES, type RunView } from '../../lambdas/core/types';
import { type ApiTarget, apiTarget, callApi } from './client';
import { assertDataDirFree, type CliCommand, type CliValues, intOption, localDataDir, UsageError, usdOption } from './common';
import { followRun } from './events';
import { assertServerRunsConfig, useLocalServer } from './local';
import { describeEvent, describeStateEvent } from './progress';
import { localSecretsFile } from './serve';

/** `agent run "<prompt>"`: one request, offline, end to end. */
export const runCommand: CliCommand = {
  usage: 'run "<prompt>"         run one request offline, end to end, kept in the data dir (progress on stderr, answer on stdout)',
  async run({ config, positionals, values }) {
    const prompt = positionals.join(' ');
    if (!prompt.trim()) throw new UsageError('agent run needs a prompt: agent run "What is 12.5% of 3480?"');
    const budgets = {
      maxSteps: intOption('max-steps', values['max-steps']),
      maxTokens: intOption('max-tokens', values['max-tokens']),
      maxCostUsd: usdOption('max-cost-usd', values['max-cost-usd']),
    };
    effectiveBudgets(config.budgets, budgets); // refuse a raise before anything starts
    const schema = outputSchemaOption(values['output-schema']);
    const progress = (line: string) => process.stderr.write(`${line}\n`);
    if (typeof values.api === 'string') return runRemote(apiTarget(values), prompt, budgets, values, progress, schema);
    // A local server on its port holds the data dir: the run goes through it (and lands in its data), if it runs this config.
    if (await useLocalServer(values)) {
      assertServerRunsConfig(values, config);
      return runRemote(apiTarget(values), prompt, budgets, values, progress, schema, 250);
    }
    // Else the run is made here, on the data dir, so that runs|show|trace|replay <id> find it afterwards.
    const dataDir = localDataDir(values);
    await assertDataDirFree(dataDir);
    // The engine (and everything it runs) is loaded by the commands that start one only.
    const [{ LocalEngine }, { DEV_USER_ID }] = await Promise.all([import('../../local/engine'), import('../../local/server')]);
    const engine = await LocalEngine.start({
      config,
      dataDir,
      secretsFile: localSecretsFile(dataDir),
      onTrace: (_runId, event) => progress(describeEvent(event)),
      onStateEvent: (_runId, event) => {
        const line = describeStateEvent(event);
        if (line) progress(line);
      },
    });
    // The run belongs to the caller the local server would see: the development token's, or the first of localTokens.
    const userId = Object.values(config.localTokens ?? {})[0] ?? DEV_USER_ID;
    try {
      const { run, error } = await engine.run({ input: prompt, budgets, userId, ...(schema ? { outputSchema: { schema, name: config.output?.name ?? 'final_answer' } } : {}) });
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

/** `agent run --api <url> --token <jwt>` (or with a local server running): start the run there and follow its events until it ends. */
async function runRemote(
  target: ApiTarget,
  prompt: string,
  budgets: { maxSteps?: number; maxTokens?: number; maxCostUsd?: number },
  values: CliValues,
  progress: (line: string) => void,
  outputSchema?: Record<string, unknown>,
  pollMs = 1000,
): Promise<number> {
  const hasBudgets = budgets.maxSteps !== undefined || budgets.maxTokens !== undefined || budgets.maxCostUsd !== undefined;
  const { runId } = await callApi<{ runId: string }>(target, 'POST', '/runs', { input: prompt, ...(hasBudgets ? { budgets } : {}), ...(outputSchema ? { outputSchema } : {}) });
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
      for (const p of run.pendingApprovals ?? [])
        progress(`  waiting for approval: ${p.name}(${JSON.stringify(p.arguments)}) · agent approve|reject ${runId} --call ${p.toolCallId}`);
    }
    last = line;
    if (!ACTIVE_STATUSES.includes(run.status) || Date.now() > deadline) {
      process.stdout.write(values.json ? `${JSON.stringify(run)}\n` : `${run.answer ?? ''}\n`);
      return 0;
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/** `--output-schema <file>`: a JSON Schema file (at most 16 KB) the answer must satisfy; undefined when not given. */
export function outputSchemaOption(file: unknown): Record<string, unknown> | undefined {
  if (file === undefined) return undefined;
  if (typeof file !== 'string' || !file) throw new UsageError('--output-schema needs a JSON Schema file: --output-schema answer.schema.json');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`--output-schema: cannot read ${file}: ${(err as Error).message}`);
  }
  if (Buffer.byteLength(text, 'utf8') > MAX_OUTPUT_SCHEMA_BYTES) throw new UsageError(`--output-schema: ${file} is larger than ${MAX_OUTPUT_SCHEMA_BYTES} bytes`);
  let schema: unknown;
  try {
    schema = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--output-schema: ${file} is not JSON: ${(err as Error).message}`);
  }
  const problem = schemaProblem(schema);
  if (problem) throw new UsageError(`--output-schema: ${file} ${problem}`);
  return schema as Record<string, unknown>;
}
