#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { AgentStack } from '../lib/agent-stack';
import { ConfigError, loadConfig } from '../lib/config';
import { assertDeployable } from '../lib/deployable';
import { acknowledgeFindings, applyChecks } from '../lib/nag';

/** The CDK app: `npx cdk synth` / `npx cdk deploy`. Config from agent.config.json (or AGENT_CONFIG). */
function main(): void {
  const app = new App();
  const config = loadConfig(app.node.tryGetContext('agentConfig'));
  // What works offline but not in AWS (keys only in the environment, credentials written in the config) stops here,
  // naming the fix; the local engine synthesizes the same stack without this check.
  assertDeployable(config);
  const stack = new AgentStack(app, app.node.tryGetContext('stackName') ?? 'AgentStack', {
    config,
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  });
  // The production checklist, enforced: cdk-nag AwsSolutions and the agent readiness rules fail synth.
  applyChecks(app);
  acknowledgeFindings(stack);
  app.synth();
}

try {
  main();
} catch (err) {
  // A config error is the user's to fix: its message (each key and what is allowed), not a stack trace.
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`ConfigError: ${err.message}\n`);
  process.exitCode = 1;
}
