/**
 * The tool registry: the built-ins (`calculator`, `search_docs`) plus every configured tool (`http`, `retriever`,
 * `lambda`), and the catalog on top of it that adds the tools of the configured MCP servers (`mcp`), listed at run
 * time (see {@link createToolCatalog}).
 *
 * Contract of every registered tool's `run` (and of {@link runTool}):
 * - resolves with `{content, isError?, degraded?, data?}`; bad arguments, unknown tools, 4xx and other
 *   non-transient failures are `isError` results the model reads and can react to;
 * - THROWS only transient taxonomy errors (TransientError, TimeoutError, RateLimited) so the state machine's Retry
 *   re-runs the call (with the same idempotency key);
 * - every external call goes through `guard("tool:<name>", fn)` (the circuit breaker; identity when absent).
 */

import type { LambdaClient } from '@aws-sdk/client-lambda';
import type { ToolConfig } from '../core/config';
import { BUILTIN_TOOL_NAMES } from '../core/config-env';
import { TransientError } from '../core/errors';
import type { DegradedEntry, ToolCall, ToolSpec } from '../core/types';
import type { SecretReader } from '../providers/secrets';
import { calculatorTool } from './calculator';
import { createHttpTool, type FetchLike, type Guard } from './http-tool';
import { createSearchDocsTool } from './keyword-search';
import { createLambdaTool, type LambdaInvoker, sdkInvoker } from './lambda-tool';
import { McpSource, nameMcpTools, type OfferedMcpTool, runMcpTool, unavailableEntry } from './mcp-tool';
import { createRetrieverTool } from './retriever';
import { errorToResult, MAX_CONTENT_BYTES, type Tool, type ToolContext, type ToolResult, truncateUtf8 } from './types';

export { BUILTIN_TOOL_NAMES } from '../core/config-env';
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
  /** How `lambda` tools are invoked (tests). Default: the AWS SDK ({@link sdkInvoker}, with `lambdaClientFor`). */
  lambdaInvoker?: LambdaInvoker;
  /**
   * The Lambda client of a region for `lambda` tools. Default: the SDK's (`AWS_ENDPOINT_URL_LAMBDA` points it
   * elsewhere); the local engine gives clients bound to its Lambda endpoint, signing as the calling function.
   */
  lambdaClientFor?: (region: string) => LambdaClient;
  /** Reads the `headersSecret` of MCP servers (Secrets Manager). */
  secrets?: SecretReader;
  /** Clock of the MCP listing cache (tests). */
  clock?: () => number;
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
      case 'lambda':
        add(createLambdaTool(config, { invoker: lambdaInvokerFor(deps), guard: deps.guard }));
        break;
      case 'mcp':
        break; // listed at run time: see createToolCatalog
      default: {
        const never: never = config;
        throw new Error(`unknown tool kind in ${JSON.stringify(never)}`);
      }
    }
  }
  return registry;
}

let defaultSdkInvoker: LambdaInvoker | undefined;
/** The invoker of the `lambda` tools: the injected one, else the AWS SDK (the same call in AWS and offline). */
function lambdaInvokerFor(deps: ToolRegistryDeps): LambdaInvoker {
  if (deps.lambdaInvoker) return deps.lambdaInvoker;
  if (deps.lambdaClientFor) return sdkInvoker({ clientFor: deps.lambdaClientFor });
  defaultSdkInvoker ??= sdkInvoker();
  return defaultSdkInvoker;
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

/** What the model is offered for one call: the tools, and the MCP servers whose tools are missing (and why). */
export interface ToolListing {
  specs: ToolSpec[];
  unavailable: DegradedEntry[];
  /** Tools a config's `allow` names that their server does not offer, per server dependency (`tool:<server>`). */
  notListed?: { dependency: string; names: string[] }[];
}

/**
 * All the tools of a config: the static registry plus the tools of every MCP server, listed through each server's
 * cache. `list` never throws: a server that cannot be listed is left out and reported in `unavailable`. `run`
 * resolves a name the model used against the same listing; a name that may belong to a server that cannot be
 * listed right now is a transient failure (the state machine retries it), any other unknown name an error result.
 */
export interface ToolCatalog {
  registry: ToolRegistry;
  sources: McpSource[];
  list(): Promise<ToolListing>;
  run(call: Pick<ToolCall, 'name' | 'arguments' | 'argumentsError'>, ctx: ToolContext): Promise<ToolResult>;
  close(): Promise<void>;
}

export function createToolCatalog(tools: ToolConfig[], deps: ToolRegistryDeps = {}): ToolCatalog {
  const registry = buildToolRegistry(tools, deps);
  const sources = tools.flatMap((t) => (t.kind === 'mcp' ? [new McpSource(t, { guard: deps.guard, fetchImpl: deps.fetchImpl, clock: deps.clock, secrets: deps.secrets })] : []));
  const offered = async (): Promise<{ tools: OfferedMcpTool[]; unavailable: DegradedEntry[]; notListed: NonNullable<ToolListing['notListed']> }> => {
    const listings = await Promise.all(sources.map(async (source) => ({ source, listing: await source.list() })));
    const unavailable: DegradedEntry[] = [];
    const notListed: NonNullable<ToolListing['notListed']> = [];
    const ok: Parameters<typeof nameMcpTools>[1] = [];
    for (const { source, listing } of listings) {
      if (listing.ok) {
        ok.push({ source, tools: listing.tools });
        if (listing.missing) notListed.push({ dependency: source.dependency, names: listing.missing });
      } else unavailable.push(unavailableEntry(source, listing.error));
    }
    return { tools: nameMcpTools(registry.keys(), ok), unavailable, notListed };
  };
  return {
    registry,
    sources,
    async list() {
      const static_ = toolSpecs(registry);
      if (sources.length === 0) return { specs: static_, unavailable: [] };
      const { tools: mcp, unavailable, notListed } = await offered();
      return { specs: [...static_, ...mcp.map((t) => t.spec)], unavailable, ...(notListed.length ? { notListed } : {}) };
    },
    async run(call, ctx) {
      if (registry.has(call.name) || sources.length === 0) return runTool(registry, call, ctx);
      const { tools: mcp, unavailable } = await offered();
      const tool = mcp.find((t) => t.spec.name === call.name);
      if (!tool) {
        if (unavailable.length > 0) {
          throw new TransientError(
            `tool ${call.name} is not offered by any reachable MCP server (unreachable: ${unavailable.map((u) => `${u.dependency} ${u.reason}`).join(', ')})`,
          );
        }
        const available = [...registry.keys(), ...mcp.map((t) => t.spec.name)];
        return { content: `unknown tool ${call.name}; available: ${available.join(', ')}`, isError: true, data: { error: 'BadRequest' } };
      }
      if (call.argumentsError !== undefined) {
        return runTool(new Map([[tool.spec.name, { spec: tool.spec, run: async () => ({ content: '' }) }]]), call, ctx); // the bad-JSON result
      }
      return hardenTool({ spec: tool.spec, run: (args, c) => runMcpTool(tool, args, c) }).run(call.arguments, ctx);
    },
    async close() {
      await Promise.all(sources.map((s) => s.close()));
    },
  };
}
