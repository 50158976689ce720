import { resolveBreakerConfig } from '../lambdas/core/breaker';
import { contextWindowOf } from '../lambdas/core/context-windows';
import type { AgentConfig, BreakerConfig, ToolConfig } from './config';

/** One external dependency of the agent, its guard and its way out. */
export interface Dependency {
  /** Breaker and trace name, e.g. "model:primary", "tool:retrieve". */
  name: string;
  what: string;
  timeoutMs: number;
  breaker: BreakerConfig;
  /** What answers when it is down, in words. */
  fallback: string;
}

/** The breaker settings of one dependency: the global ones with its override (config `breakers`). */
export function breakerFor(config: AgentConfig, dependency: string): BreakerConfig {
  return resolveBreakerConfig(config.breaker, config.breakers[dependency]);
}

/** Every external dependency the config declares, in a stable order. The demo model is offline but listed too. */
export function dependenciesOf(config: AgentConfig): Dependency[] {
  const { primary, fallback } = config.models;
  const out: Dependency[] = [
    {
      name: 'model:primary',
      what: `${primary.provider} model ${primary.model}`,
      timeoutMs: primary.timeoutMs,
      breaker: breakerFor(config, 'model:primary'),
      fallback: fallback
        ? `the fallback model (${fallback.provider}/${fallback.model}), then a partial answer from the tool results`
        : 'a partial answer from the tool results gathered so far',
    },
  ];
  if (fallback) {
    out.push({
      name: 'model:fallback',
      what: `${fallback.provider} model ${fallback.model}`,
      timeoutMs: fallback.timeoutMs,
      breaker: breakerFor(config, 'model:fallback'),
      fallback: 'a partial answer from the tool results gathered so far, with a notice',
    });
  }
  for (const tool of config.tools) {
    out.push({
      name: `tool:${tool.name}`,
      what: toolWhat(tool),
      timeoutMs: tool.timeoutMs,
      breaker: breakerFor(config, `tool:${tool.name}`),
      fallback: TOOL_KIND_FALLBACKS[tool.kind],
    });
  }
  return out;
}

function toolWhat(tool: ToolConfig): string {
  switch (tool.kind) {
    case 'retriever':
      return `retriever at ${new URL(tool.url).host}`;
    case 'http':
      return `HTTP tool at ${new URL(tool.url).host}`;
    case 'mcp':
      return `MCP server at ${new URL(tool.url).host}${tool.allow ? ` (tools: ${tool.allow.join(', ')})` : ''}`;
    case 'lambda':
      return `Lambda function ${tool.functionArn.split(':').slice(6).join(':')}${tool.localHandler ? ` (offline: ${tool.localHandler})` : ''}`;
  }
}

/** What answers when a configured tool of each kind is down. */
export const TOOL_KIND_FALLBACKS: Record<ToolConfig['kind'], string> = {
  retriever: 'the built-in keyword search over docs/ (the result says it was degraded)',
  http: 'an error result the model sees (it can answer without the tool); the run is marked degraded',
  mcp: 'down when its tools are listed: the run goes on without them, degraded, with a notice; down during a call: an error result the model sees (isError results too)',
  lambda: 'an error result the model sees (function errors too; throttles and service errors are retried first); the run is marked degraded when the breaker is open',
};

/** How each tool kind fails, for the generated doc (whatever the config holds). */
const TOOL_KIND_ROWS: [ToolConfig['kind'], string, string][] = [
  ['http', 'network error, 5xx, 408, timeout; 429 (Retry-After)', '4xx (the status and a body excerpt)'],
  ['retriever', 'as http', 'as http'],
  [
    'mcp',
    'connection refused or reset, HTTP 5xx/408, JSON-RPC ConnectionClosed/InternalError, timeout; 429',
    'a result with `isError`, HTTP 4xx (e.g. a rejected Authorization header), other JSON-RPC errors',
  ],
  [
    'lambda',
    'TooManyRequestsException and other throttles (RateLimited), ServiceException and other 5xx, ResourceNotReady, network errors, timeout',
    'FunctionError (the function threw or returned an error), other 4xx (no such function, access denied)',
  ],
];

/** docs/degradation.md, produced from the config so it cannot drift (a test checks the file is current). */
export function renderDegradationDoc(config: AgentConfig, source = 'agent.config.json'): string {
  const rows = dependenciesOf(config).map((d) => {
    const b = d.breaker;
    const breaker = b.enabled
      ? `opens at ${b.failureThreshold} failures in ${b.windowSeconds} s (min ${b.minimumCalls} calls), cool-down ${b.cooldownSeconds} s, one probe`
      : 'disabled';
    return `| \`${d.name}\` | ${d.what} | ${d.timeoutMs} ms | ${breaker} | ${d.fallback} |`;
  });
  return `# Degradation paths

Generated from \`${source}\` by \`npm run docs:degradation\`; a test fails when this file is out of date.

Every external dependency has a client timeout, a circuit breaker whose state lives in DynamoDB, and a fallback.
When a fallback answers, the run's status is DEGRADED, \`degraded\` lists \`{dependency, reason, fallback}\`, and
the answer starts with a short notice telling the user what degraded.

| dependency | what | timeout | breaker | fallback |
|---|---|---|---|---|
${rows.join('\n')}

Tool kinds: what is retried (transient, thrown to the state machine) and what becomes a result the model reads.
Every external tool sits behind its own breaker (\`tool:<name>\`; for an MCP server, one breaker for all its tools).

| kind | retried | a result for the model | when it is down |
|---|---|---|---|
${TOOL_KIND_ROWS.map(([kind, retried, result]) => `| \`${kind}\` | ${retried} | ${result} | ${TOOL_KIND_FALLBACKS[kind]} |`).join('\n')}

Retries (all dependencies): ${config.retry.maxAttempts} attempts in all, exponential backoff from ${config.retry.intervalSeconds} s
(rate ${config.retry.backoffRate}, full jitter, at most ${config.retry.maxDelaySeconds} s between attempts), on transient errors only.
An open breaker (CircuitOpen) is never retried: it goes straight to the fallback.

Context windows (docs/agent.md): ${windowsLine(config)}.
Before every call the conversation is compacted to fit the window of the model about to answer (older tool results
elided, then the oldest steps summarized). A provider's own
"prompt does not fit" answer (ContextOverflow: OpenAI \`context_length_exceeded\`, Anthropic "prompt is too long",
Bedrock "Input is too long") is not an outage: it is never retried as is and never sent to the fallback; the
conversation is compacted harder and the call made once more, and a second overflow ends the run UNFINISHED /
CONTEXT_WINDOW.
`;
}

/** Each model's context window, and where it comes from. */
function windowsLine(config: AgentConfig): string {
  const { primary, fallback } = config.models;
  const one = (tier: string, m: AgentConfig['models']['primary']) => {
    const tokens = contextWindowOf(m);
    const source = m.contextWindowTokens !== undefined ? 'config' : m.provider === 'demo' ? 'demo' : 'built-in';
    return `${tier} ${m.provider}/${m.model} ${tokens === undefined ? 'unknown (set contextWindowTokens)' : `${tokens} tokens (${source})`}`;
  };
  return [one('primary', primary), ...(fallback ? [one('fallback', fallback)] : [])].join('; ');
}
