import type { AgentConfig, BreakerConfig } from './config';

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
  return { ...config.breaker, ...(config.breakers[dependency] ?? {}) };
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
      fallback: fallback ? `the fallback model (${fallback.provider}/${fallback.model}), then a partial answer from the tool results` : 'a partial answer from the tool results gathered so far',
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
      what: tool.kind === 'retriever' ? `retriever at ${new URL(tool.url).host}` : `HTTP tool at ${new URL(tool.url).host}`,
      timeoutMs: tool.timeoutMs,
      breaker: breakerFor(config, `tool:${tool.name}`),
      fallback:
        tool.kind === 'retriever'
          ? 'the built-in keyword search over docs/ (the result says it was degraded)'
          : 'an error result the model sees (it can answer without the tool); the run is marked degraded',
    });
  }
  return out;
}

/** docs/degradation.md, produced from the config so it cannot drift (a test checks the file is current). */
export function renderDegradationDoc(config: AgentConfig, source = 'agent.config.json'): string {
  const rows = dependenciesOf(config).map((d) => {
    const b = d.breaker;
    const breaker = b.enabled ? `opens at ${b.failureThreshold} failures in ${b.windowSeconds} s (min ${b.minimumCalls} calls), cool-down ${b.cooldownSeconds} s, one probe` : 'disabled';
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

Retries (all dependencies): ${config.retry.maxAttempts} attempts in all, exponential backoff from ${config.retry.intervalSeconds} s
(rate ${config.retry.backoffRate}, full jitter, at most ${config.retry.maxDelaySeconds} s between attempts), on transient errors only.
An open breaker (CircuitOpen) is never retried: it goes straight to the fallback.
`;
}
