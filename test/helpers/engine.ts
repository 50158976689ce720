import { type AgentConfigInput, parseConfig } from '../../lib/config';
import { type EngineOptions, LocalEngine } from '../../local/engine';
import { type CfnTemplate, cachedTemplate } from '../../local/template';

/** The synthesized template for a config (cached by config and code, shared by suites and workers). */
export function templateFor(config: ReturnType<typeof parseConfig>): CfnTemplate {
  return cachedTemplate(config);
}

/** An offline engine on in-memory dynalite running the synthesized machine, retry sleeps removed. */
export async function testEngine(config: AgentConfigInput = {}, options: Partial<EngineOptions> = {}): Promise<LocalEngine> {
  const parsed = parseConfig(config);
  return LocalEngine.start({ config: parsed, template: templateFor(parsed), retryScale: 0, ...options });
}
