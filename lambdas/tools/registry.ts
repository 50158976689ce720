/**
 * The tool registry: the built-ins (`calculator`, `search_docs`) plus every configured tool (`http`, `retriever`).
 *
 * Contract of every registered tool's `run` (and of {@link runTool}):
 * - resolves with `{content, isError?, degraded?, data?}`; bad arguments, unknown tools, 4xx and other
 *   non-transient failures are `isError` results the model reads and can react to;
 * - THROWS only transient taxonomy errors (TransientError, TimeoutError, RateLimited) so the state machine's Retry
 *   re-runs the call (with the same idempotency key);
 * - every external call goes through `guard("tool:<name>", fn)` (the circuit breaker; identity when absent).
 */
import { BUILTIN_TOOL_NAMES, type ToolConfig } from '../../lib/config';
import type { ToolCall, ToolSpec } from '../core/types';
import { calculatorTool } from './calculator';
import { createHttpTool, type FetchLike, type Guard } from './http-tool';
import { createSearchDocsTool } from './keyword-search';
import { createRetrieverTool } from './retriever';
import { errorToResult, MAX_CONTENT_BYTES, type Tool, type ToolContext, type ToolResult, truncateUtf8 } from './types';


export { BUILTIN_TOOL_NAMES } from '../../lib/config';
export type { Guard } from './http-tool';
export type { Tool, ToolContext, ToolResult } from './types';
export { idempotencyKeyFor, isTransient } from './types';

export interface ToolRegistryDeps {
  /** Directory of markdown files for `search_docs` and the retriever fallback (default: DOCS_DIR or docs/). */
  docsDir?: string;
  /** fetch for external tools (tests inject one). */
  fetchImpl?: FetchLike;
  /** Circuit-breaker wrapper around every external call, keyed by dependency name `tool:<name>`. */
  guard?: Guard;
}

export type ToolRegistry = Map<string, Tool>;

/**
 * Wraps a tool so that whatever it throws is settled by the contract: transient errors re-thrown (classified),
 * everything else an isError result; content is capped at 16 KB.
 */
export function hardenTool(tool: Tool): Tool {
  return {
    spec: tool.spec,
    async run(args: unknown, ctx: ToolContext): Promise<ToolResult> {
      let result: ToolResult;
      try {
        result = await tool.run(args, ctx);
      } catch (err) {
        result = errorToResult(tool.spec.name, err); // throws when transient
      }
      if (typeof result.content !== 'string') result = { ...result, content: String(result.content ?? '') };
      if (Buffer.byteLength(result.content, 'utf8') > MAX_CONTENT_BYTES) {
        result = { ...result, content: truncateUtf8(result.content) };
      }
      return result;
    },
  };
}

/** Builds name → Tool for the built-ins plus each configured tool. Duplicate names are a configuration error. */
export function buildToolRegistry(tools: ToolConfig[], deps: ToolRegistryDeps = {}): ToolRegistry {
  const registry: ToolRegistry = new Map();
  const add = (tool: Tool) => {
    if (registry.has(tool.spec.name)) {
      throw new Error(`tool name "${tool.spec.name}" is already taken (built-ins: ${BUILTIN_TOOL_NAMES.join(', ')}; names must be unique)`);
    }
    registry.set(tool.spec.name, hardenTool(tool));
  };
  add(calculatorTool);
  add(createSearchDocsTool(deps.docsDir));
  for (const config of tools) {
    switch (config.kind) {
      case 'http':
        add(createHttpTool(config, { fetchImpl: deps.fetchImpl, guard: deps.guard }));
        break;
      case 'retriever':
        add(createRetrieverTool(config, { docsDir: deps.docsDir, fetchImpl: deps.fetchImpl, guard: deps.guard }));
        break;
      default: {
        const never: never = config;
        throw new Error(`unknown tool kind in ${JSON.stringify(never)}`);
      }
    }
  }
  return registry;
}

/** The specs the model is offered, in registry order (built-ins first). */
export function toolSpecs(registry: ToolRegistry): ToolSpec[] {
  return [...registry.values()].map((t) => t.spec);
}

/**
 * Runs one tool call from the model: unknown tool names and unparsable arguments become isError results; otherwise
 * the tool's own contract applies (transient errors are thrown).
 */
export async function runTool(registry: ToolRegistry, call: Pick<ToolCall, 'name' | 'arguments' | 'argumentsError'>, ctx: ToolContext): Promise<ToolResult> {
  const tool = registry.get(call.name);
  if (!tool) {
    return {
      content: `unknown tool ${call.name}; available: ${[...registry.keys()].join(', ')}`,
      isError: true,
      data: { error: 'BadRequest' },
    };
  }
  if (call.argumentsError !== undefined) {
    return {
      content: `arguments for ${call.name} were not valid JSON (${call.argumentsError}); send a JSON object matching the tool's parameters`,
      isError: true,
      data: { error: 'BadRequest' },
    };
  }
  return tool.run(call.arguments, ctx);
}
