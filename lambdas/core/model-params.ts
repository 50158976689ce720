/**
 * Model parameters the providers translate (docs/agent.md, "Model parameters"): kept apart from the config schema so
 * a provider client reads them without loading the schema (and zod with it) into its handler.
 */

/** Anthropic's extended-thinking budget (tokens) for each reasoning effort; Anthropic's minimum is 1,024. */
export const REASONING_BUDGETS = { low: 1024, medium: 4096, high: 16_384 } as const;

/** Bedrock models that take a reasoning setting through `additionalModelRequestFields`. */
export function bedrockReasoningKind(modelId: string): 'anthropic' | 'openai' | undefined {
  const id = modelId.replace(/^(us|eu|apac|us-gov|global)\./, '');
  if (/^anthropic\.claude-(3-7-sonnet|sonnet-4|opus-4)/.test(id)) return 'anthropic';
  if (/^openai\.gpt-oss/.test(id)) return 'openai';
  return undefined;
}
