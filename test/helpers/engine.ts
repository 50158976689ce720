import { type AgentConfigInput, parseConfig } from '../../lib/config';
import { type EngineOptions, LocalEngine } from '../../local/engine';
import { type CfnTemplate, cachedTemplate, definitionOf } from '../../local/template';
import { warmTemplate } from './synth-thread';

/**
 * The API keys variant (api.auth "apiKeys", no authorizer cache) the template and integration tests share, so the
 * suite synthesizes it once.
 */
export const API_KEYS_CONFIG = { api: { auth: 'apiKeys', authorizerCacheSeconds: 0 } } as const satisfies AgentConfigInput;

/** The synthesized template for a config (cached by config and code, shared by suites and workers). */
export function templateFor(config: ReturnType<typeof parseConfig>): CfnTemplate {
  warmTemplate(config);
  return cachedTemplate(config);
}

/** An offline engine on in-memory dynalite running the synthesized machine, retry sleeps removed. */
export async function testEngine(config: AgentConfigInput = {}, options: Partial<EngineOptions> = {}): Promise<LocalEngine> {
  const parsed = parseConfig(config);
  return LocalEngine.start({ config: parsed, template: templateFor(parsed), retryScale: 0, ...options });
}

/** A copy of the template whose state machine definition is changed by `patch` (e.g. a short machine timeout). */
export function patchDefinition(template: CfnTemplate, patch: (definition: Record<string, unknown>) => void): CfnTemplate {
  const copy = JSON.parse(JSON.stringify(template)) as CfnTemplate;
  const definition = definitionOf(copy);
  patch(definition);
  const machine = Object.values(copy.Resources).find((r) => r.Type === 'AWS::StepFunctions::StateMachine');
  if (!machine?.Properties) throw new Error('no state machine in the template');
  machine.Properties.DefinitionString = JSON.stringify(definition);
  return copy;
}
