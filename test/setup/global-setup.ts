/** Runs once per jest run. */
export default async function globalSetup(): Promise<void> {
  process.env.CDK_DISABLE_CLI_TELEMETRY = 'true';
}
