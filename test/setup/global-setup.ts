import { randomUUID } from 'node:crypto';

/** Runs once per jest run: a run id that keys the template cache, so every run synthesizes the current code. */
export default async function globalSetup(): Promise<void> {
  process.env.CDK_DISABLE_CLI_TELEMETRY = 'true';
  process.env.JEST_RUN_ID = randomUUID();
}
