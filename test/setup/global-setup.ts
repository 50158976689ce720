/** Runs once per jest run. The integration suites synthesize the app themselves (cached on disk, see test/helpers). */
export default async function globalSetup(): Promise<void> {
  process.env.CDK_DISABLE_CLI_TELEMETRY = 'true';
}
