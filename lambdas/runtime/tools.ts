import type { Context } from 'aws-lambda';
import type { LoopDeps } from '../core/loop';
import { createToolCatalog, type ToolCatalog, toolSpecs } from '../tools/registry';
import type { RuntimeOptions } from './base';
import type { BreakerWiring } from './breaker';

/** The tools (call-tool runs them, call-model offers them). */
export interface ToolWiring extends Pick<LoopDeps, 'toolSpecs' | 'listTools' | 'runTool'> {
  /** The tools: the static registry and the MCP servers (the local engine closes their sessions). */
  tools: ToolCatalog;
  registerLambdaContext: (context: Context) => void;
}

/** The tool catalog from config, each external call behind the breaker (./idempotency.ts adds idempotent runs). */
export function createToolWiring(options: RuntimeOptions, base: BreakerWiring): ToolWiring {
  const catalog = createToolCatalog(options.config.tools, {
    docsDir: options.docsDir,
    fetchImpl: options.fetchImpl,
    guard: base.breaker.guard,
    lambdaClientFor: options.lambdaClientFor,
    secrets: options.secrets,
  });
  const plainRun = (call: Parameters<ToolCatalog['run']>[0], ctx: Parameters<ToolCatalog['run']>[1]) => catalog.run(call, ctx);
  return {
    toolSpecs: toolSpecs(catalog.registry),
    ...(catalog.sources.length > 0 ? { listTools: () => catalog.list() } : {}),
    tools: catalog,
    runTool: plainRun,
    registerLambdaContext: () => {},
  };
}
