/**
 * Context windows (input + output tokens a model accepts in one request) of well-known models, read from the
 * providers' model pages on CONTEXT_WINDOWS_READ, like the built-in prices (./pricing.ts). A config's
 * `contextWindowTokens` on the model wins; a model not listed here must say its window (the config refuses it
 * otherwise). docs/agent.md says how to update the table.
 */

import { WINDOW_FILL } from './context';
import type { HostedProvider } from './types';

/** When the built-in windows were read from the providers' model pages. */
export const CONTEXT_WINDOWS_READ = '2025-08-01';

export const BUILTIN_CONTEXT_WINDOWS: Record<HostedProvider, Record<string, number>> = {
  openai: {
    'gpt-4o': 128_000,
    'gpt-4o-mini': 128_000,
    'gpt-4.1': 1_047_576,
    'gpt-4.1-mini': 1_047_576,
    'gpt-4.1-nano': 1_047_576,
    'gpt-5': 400_000,
    'gpt-5-mini': 400_000,
    'gpt-5-nano': 400_000,
    o3: 200_000,
    'o4-mini': 200_000,
  },
  anthropic: {
    'claude-opus-4-1': 200_000,
    'claude-opus-4': 200_000,
    'claude-sonnet-4': 200_000,
    'claude-3-7-sonnet': 200_000,
    'claude-3-5-sonnet': 200_000,
    'claude-3-5-haiku': 200_000,
    'claude-3-haiku': 200_000,
  },
  bedrock: {
    'anthropic.claude-opus-4-1': 200_000,
    'anthropic.claude-opus-4': 200_000,
    'anthropic.claude-sonnet-4': 200_000,
    'anthropic.claude-3-7-sonnet': 200_000,
    'anthropic.claude-3-5-sonnet': 200_000,
    'anthropic.claude-3-5-haiku': 200_000,
    'anthropic.claude-3-haiku': 200_000,
    'amazon.nova-micro': 128_000,
    'amazon.nova-lite': 300_000,
    'amazon.nova-pro': 300_000,
    'meta.llama3-1-8b-instruct': 128_000,
    'meta.llama3-1-70b-instruct': 128_000,
  },
};

/** The demo model's window: large enough that it never compacts by accident (set `contextWindowTokens` to try it). */
export const DEMO_CONTEXT_WINDOW = 128_000;

/**
 * The context window of a model: its config's `contextWindowTokens`, else the built-in table (exact name, or the
 * longest listed name the configured one extends with a version or date, as for prices; Bedrock's geography prefix
 * ignored), the demo's; undefined when unknown.
 */
export function contextWindowOf(model: { provider: string; model: string; contextWindowTokens?: number }): number | undefined {
  if (model.contextWindowTokens !== undefined) return model.contextWindowTokens;
  if (model.provider === 'demo') return DEMO_CONTEXT_WINDOW;
  const table = (BUILTIN_CONTEXT_WINDOWS as Record<string, Record<string, number>>)[model.provider];
  if (!table) return undefined;
  const name = model.provider === 'bedrock' ? model.model.replace(/^(us|eu|apac|us-gov|global)\./, '') : model.model;
  if (Object.hasOwn(table, name)) return table[name];
  const base = Object.keys(table)
    .filter((k) => name.startsWith(`${k}-`) || name.startsWith(`${k}:`))
    .sort((a, b) => b.length - a.length)[0];
  return base ? table[base] : undefined;
}

/**
 * Why a model's output reserve (`maxOutputTokens`) cannot work with its context window, if so: the reserve comes out
 * of the window before any prompt (docs/agent.md "Context windows"), so one that takes all the prompt may fill
 * leaves no room for the question, and every call would fail or be compacted to nothing.
 */
export function outputReserveIssues(m: { provider: string; model: string; maxOutputTokens: number; contextWindowTokens?: number }): { key: string; message: string }[] {
  const window = contextWindowOf(m);
  if (window === undefined) return [];
  const fill = Math.floor(window * WINDOW_FILL);
  if (m.maxOutputTokens < fill) return [];
  const message = `${m.maxOutputTokens} leaves no room for a prompt in the ${window}-token context window of "${m.model}" (the prompt and the output reserve must fit ${fill} tokens, ${WINDOW_FILL * 100}% of it): lower maxOutputTokens, or set contextWindowTokens if the model's window is larger`;
  return [{ key: 'maxOutputTokens', message }];
}
