import { type AgentConfig, ConfigError } from './config';

/**
 * Header names whose values are credentials: `Authorization` and its kin, and any name that says key, token, secret
 * or password (`X-Api-Key`, `X-Auth-Token`, …).
 */
const CREDENTIAL_HEADER = /^(authorization|proxy-authorization|cookie)$|key|token|secret|passw|auth/i;

/**
 * What a config may do offline but cannot do in AWS, each naming the fix. The offline engine reads keys from the
 * environment and literal headers from the config; a deployed function has neither the developer's environment nor
 * a place for a credential but its own environment, visible in the template and the console. So `cdk synth` (bin/app.ts)
 * refuses, and the local engine, which synthesizes the same stack for itself, does not (docs/local-vs-aws.md,
 * "Synth refuses what cannot work in AWS").
 */
export function deployProblems(config: AgentConfig): string[] {
  const problems: string[] = [];
  for (const tier of ['primary', 'fallback'] as const) {
    const m = config.models[tier];
    if (!m || m.provider === 'demo' || m.provider === 'bedrock' || !m.apiKeyEnv || m.apiKeySecret) continue;
    problems.push(
      `models.${tier}: the API key is only in the environment variable ${m.apiKeyEnv} (apiKeyEnv), which the deployed function does not have; store the key in Secrets Manager and name the secret in models.${tier}.apiKeySecret (e.g. "apiKeySecret": "agent/${m.provider}-key", the secret's value the key or {"apiKey": "…"}; apiKeyEnv keeps working offline)`,
    );
  }
  const langfuse = config.observability.langfuse;
  if (langfuse && !langfuse.secret) {
    problems.push(
      `observability.langfuse: the keys are only in the environment variables ${langfuse.publicKeyEnv} and ${langfuse.secretKeyEnv}, which the deployed exporter does not have; store {"publicKey": "…", "secretKey": "…"} in Secrets Manager and name the secret in observability.langfuse.secret (the variables keep working offline)`,
    );
  }
  config.tools.forEach((t, i) => {
    if (t.kind !== 'mcp') return;
    for (const name of Object.keys(t.headers)) {
      if (!CREDENTIAL_HEADER.test(name)) continue;
      problems.push(
        `tools[${i}].headers.${name} (MCP server "${t.name}"): a credential written in the config ends up in the template and every function's environment; store {"${name}": "…"} in Secrets Manager and name the secret in tools[${i}].headersSecret (literal headers keep working offline)`,
      );
    }
  });
  return problems;
}

/** Throws a ConfigError listing every problem of {@link deployProblems}; `cdk synth` calls it before building the stack. */
export function assertDeployable(config: AgentConfig): void {
  const problems = deployProblems(config);
  if (problems.length) throw new ConfigError(`This config cannot work in AWS (it does offline):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
}
