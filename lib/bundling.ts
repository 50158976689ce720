/**
 * What the handler bundles leave out (lib/functions.ts bundles with these; `npm run bench` measures with them):
 * - `@aws-sdk/*` and `@smithy/*`: the Lambda Node.js runtime provides the SDK v3 with its `@smithy` dependencies
 *   (one tree: where `@aws-sdk/client-bedrock-runtime` resolves, the `@smithy/node-http-handler` it uses does);
 * - the MCP SDK: it carries the full zod and ajv, so it ships as node_modules next to the bundles of the handlers
 *   that may use it (call-model lists MCP tools, call-tool calls them) and is loaded on the first MCP connection
 *   only (lambdas/tools/mcp-tool.ts): a deployment without MCP servers never loads it.
 */
export const EXTERNAL_MODULES = ['@aws-sdk/*', '@smithy/*', '@modelcontextprotocol/sdk'];

/** The packages installed next to a handler's bundle (loaded at run time, on first use). */
export function nodeModulesOf(handler: string): string[] {
  return handler === 'call-model' || handler === 'call-tool' ? ['@modelcontextprotocol/sdk'] : [];
}
