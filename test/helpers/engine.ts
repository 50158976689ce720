import { type AgentConfigInput, parseConfig } from '../../lib/config';
import { type EngineKnobs, type EngineOptions, LocalEngine } from '../../local/engine';
import { ENGINE_KNOBS } from '../../local/engine-options';
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

/**
 * An offline engine on in-memory dynalite running the synthesized machine, retry sleeps removed. `options` may mix
 * the engine's options and its test knobs (local/engine-options.ts EngineKnobs: faults, a lower history quota...).
 */
export async function testEngine(config: AgentConfigInput = {}, options: Partial<EngineOptions> & EngineKnobs = {}): Promise<LocalEngine> {
  const parsed = parseConfig(config);
  const { engine, knobs } = splitKnobs(options);
  return LocalEngine.start({ config: parsed, template: templateFor(parsed), ...engine }, { retryScale: 0, ...knobs });
}

/** Separates the test knobs from the engine's options. */
export function splitKnobs<T extends EngineKnobs>(options: T): { engine: Omit<T, keyof EngineKnobs>; knobs: EngineKnobs } {
  const engine: Record<string, unknown> = {};
  const knobs: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) ((ENGINE_KNOBS as readonly string[]).includes(key) ? knobs : engine)[key] = value;
  return { engine: engine as Omit<T, keyof EngineKnobs>, knobs: knobs as EngineKnobs };
}

/** A copy of the template whose state machine definition is changed by `patch` (e.g. a short machine timeout). */
export function patchDefinition(template: CfnTemplate, patch: (definition: Record<string, unknown>) => void): CfnTemplate {
  const copy = JSON.parse(JSON.stringify(template)) as CfnTemplate;
  const definition = definitionOf(copy);
  patch(definition);
  const machine = Object.values(copy.Resources).find((r) => r.Type === 'AWS::StepFunctions::StateMachine' && r.Properties?.StateMachineType !== 'EXPRESS');
  if (!machine?.Properties) throw new Error('no state machine in the template');
  machine.Properties.DefinitionString = JSON.stringify(definition);
  return copy;
}
