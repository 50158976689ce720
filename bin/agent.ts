#!/usr/bin/env node
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { type AgentConfig, ConfigError, loadConfig } from '../lib/config';
import { AgentError } from '../lambdas/core/errors';
import type { TraceEvent } from '../lambdas/core/types';
import { type EventLog, LocalEngine } from '../local/engine';
import { startServer } from '../local/server';

const USAGE = `Usage: agent <command> [options]

Commands:
  run "<prompt>"     run one request offline, end to end (progress on stderr, answer on stdout)
  serve              serve the HTTP API on http://localhost:3000 (PORT to change), data kept in .agent-data/

Options:
  --config <file>    config file (default: agent.config.json, or AGENT_CONFIG)
  --json             print the run as one JSON object on stdout
  --max-steps <n>    lower the step budget for this request
  --max-tokens <n>   lower the token budget for this request
  --port <n>         serve: port (default: PORT or 3000)
  --data <dir>       serve: where the offline DynamoDB keeps its data (default: .agent-data)
  -h, --help         this text`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      json: { type: 'boolean', default: false },
      'max-steps': { type: 'string' },
      'max-tokens': { type: 'string' },
      port: { type: 'string' },
      data: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    process.stdout.write(`${USAGE}\n`);
    return command || values.help ? 0 : 2;
  }
  const config = loadConfig(values.config);
  switch (command) {
    case 'run':
      return run(config, rest.join(' '), values);
    case 'serve':
      return serve(config, values);
    default:
      process.stderr.write(`agent: unknown command "${command}"\n\n${USAGE}\n`);
      return 2;
  }
}

function intOption(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} must be a whole number of at least 1 (got "${value}")`);
  return n;
}

class UsageError extends Error {}

async function run(config: AgentConfig, prompt: string, values: Record<string, string | boolean | undefined>): Promise<number> {
  if (!prompt.trim()) throw new UsageError('agent run needs a prompt: agent run "What is 12.5% of 3480?"');
  const budgets = { maxSteps: intOption('max-steps', values['max-steps'] as string | undefined), maxTokens: intOption('max-tokens', values['max-tokens'] as string | undefined) };
  const progress = (line: string) => process.stderr.write(`${line}\n`);
  const engine = await LocalEngine.start({
    config,
    onTrace: (_runId, event) => progress(describeEvent(event)),
    onStateEvent: (_runId, event) => {
      const line = describeStateEvent(event);
      if (line) progress(line);
    },
  });
  try {
    const result = await engine.run({ input: prompt, budgets });
    const { run } = result;
    if (values.json) {
      process.stdout.write(`${JSON.stringify(run)}\n`);
    } else {
      process.stdout.write(`${run.answer ?? ''}\n`);
    }
    progress(`status ${run.status}${run.stopReason ? ` (${run.stopReason})` : ''} · ${run.steps} step(s) · tokens in ${run.usage.inputTokens} / out ${run.usage.outputTokens} · run ${run.runId}`);
    return 0;
  } finally {
    await engine.close();
  }
}

async function serve(config: AgentConfig, values: Record<string, string | boolean | undefined>): Promise<number> {
  const port = Number(values.port ?? process.env.PORT ?? 3000);
  const dataDir = resolve((values.data as string | undefined) ?? '.agent-data');
  const engine = await LocalEngine.start({ config, dataDir });
  const server = await startServer(engine, { port });
  const [token] = Object.keys(server.tokens);
  process.stdout.write(
    [
      `Agent API listening on ${server.url} (offline engine, data in ${dataDir})`,
      `  model: ${config.models.primary.provider}/${config.models.primary.model}${config.models.fallback ? `, fallback ${config.models.fallback.provider}/${config.models.fallback.model}` : ''}`,
      `  Authorization: Bearer ${token}`,
      `  try: curl -s -X POST ${server.url}/runs -H 'Authorization: Bearer ${token}' -H 'Content-Type: application/json' -d '{"input":"What is 12.5% of 3480?"}'`,
      '',
    ].join('\n'),
  );
  await new Promise<void>((resolveStop) => {
    const stop = () => resolveStop();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await server.close();
  await engine.close();
  return 0;
}

/** One line of progress per trace event. */
export function describeEvent(e: TraceEvent): string {
  const step = `step ${e.step}`;
  const err = e.error as { name?: string; message?: string } | undefined;
  switch (e.type) {
    case 'run_started':
      return `run started · budgets: ${e.maxSteps} steps, ${e.maxTokens} tokens`;
    case 'run_resumed':
      return `run resumed at step ${e.step}`;
    case 'model_call': {
      if (err) return `${step} · model ${e.tier} (${e.provider}/${e.model}) failed after ${e.latencyMs} ms: ${err.name}: ${err.message}`;
      const out = e.output as { toolCalls?: { name: string; arguments: unknown }[] } | undefined;
      const usage = e.usage as { inputTokens: number; outputTokens: number } | undefined;
      const calls = out?.toolCalls ?? [];
      const what = calls.length ? `${calls.length} tool call(s): ${calls.map((c) => `${c.name}(${JSON.stringify(c.arguments)})`).join(', ')}` : 'final answer';
      return `${step} · model ${e.tier} (${e.provider}/${e.model}) ${e.latencyMs} ms · tokens ${usage?.inputTokens ?? 0}→${usage?.outputTokens ?? 0} · ${what}`;
    }
    case 'tool_call':
      if (err) return `${step} · tool ${e.name} failed: ${err.name}: ${err.message}`;
      return `${step} · tool ${e.name} → ${oneLine(String(e.result ?? ''), 160)}${e.isError ? ' (error)' : ''}`;
    case 'fallback':
      return `${step} · degraded: ${e.dependency} (${e.reason}) → ${e.fallback}`;
    case 'budget':
      return `${step} · budget: ${e.message}`;
    case 'breaker':
      return `${step} · breaker ${e.dependency}: ${e.from} → ${e.to}`;
    case 'surrender':
      return `${step} · surrendered: ${e.stopReason}`;
    case 'run_finished':
      return `run finished: ${e.status}${e.stopReason ? ` (${e.stopReason})` : ''}`;
    default:
      return `${step} · ${e.type}`;
  }
}

function describeStateEvent(e: EventLog): string | undefined {
  if (e.type === 'StateRetried') return `  ↻ retrying ${e.state.name} (retry ${e.retry.attempt})`;
  if (e.type === 'StateCaught') return `  ↪ ${e.state.name} failed; caught → ${e.catch.catcher.Next}`;
  return undefined;
}

const oneLine = (s: string, max: number) => {
  const flat = s.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
};

/** Runs the CLI and exits with its code. */
export function runCli(argv: string[]): void {
  main(argv).then(
    (code) => process.exit(code),
    (err) => {
      if (err instanceof ConfigError || err instanceof UsageError || err instanceof AgentError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
        process.stderr.write(`agent: ${err.message}\n`);
        process.exit(2);
      }
      process.stderr.write(`agent: ${(err as Error).stack ?? err}\n`);
      process.exit(1);
    },
  );
}

if (require.main === module) runCli(process.argv.slice(2));
