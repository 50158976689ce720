import type { BuildOptions } from 'esbuild';

/**
 * How the handlers are bundled (lib/functions.ts bundles with these; `npm run bench` measures with them).
 *
 * Every handler but call-model bundles the AWS SDK v3 it uses, from the packages' ES module builds
 * (`mainFields: module`), so esbuild keeps only the clients and commands the handler imports: the runtime's own SDK
 * is CommonJS, one file per client holding every command, and loading it was most of these handlers' module init.
 * call-model keeps the SDK external (the Lambda runtime's copy): with the tokenizer ranks in it, the bundled SDK
 * would take it past its size budget, and its model call dwarfs its init.
 *
 * What stays out of the bundles:
 * - the credential providers the default chain reaches only when the environment has no credentials (SSO, ini
 *   files, processes, web identity, container/instance metadata, the STS/SSO clients they use). The chain loads
 *   them with `import()` after the environment provider, and in Lambda the environment provider answers (the runtime
 *   sets AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), so they are never loaded there; if they
 *   were, the runtime's SDK has them;
 * - `@smithy/core/event-streams`, which the SDK also loads with `import()`, for event-stream operations only: none
 *   of DynamoDB, Step Functions or Secrets Manager has one;
 * - the Lambda client of `lambda` tools (`@aws-sdk/client-lambda`; with the rest-json protocol and the event-stream
 *   serde it imports statically for InvokeWithResponseStream, ~100 KB of call-tool's bundle):
 *   lambda tools are optional, so call-tool leaves it to the Lambda runtime's SDK and requires it on the first
 *   lambda-tool call (lambdas/tools/lambda-tool.ts; `require`, as the runtime's SDK is found through NODE_PATH). A
 *   deployment without lambda tools neither bundles nor loads it; one with them pays that load (the runtime's CommonJS
 *   client and its own `@smithy/*` copies: 60-90 ms measured on the shared dev machine) once per container, on its
 *   first lambda-tool call;
 * - the MCP SDK: it carries the full zod and ajv, so it ships as node_modules next to the bundles of the handlers
 *   that may use it (call-model lists MCP tools, call-tool calls them), and only when the config has an `mcp` tool;
 *   it is loaded on the first MCP connection only (lambdas/tools/mcp-tool.ts). A deployment without MCP servers
 *   neither ships it (~31 MB installed per handler, and an `npm install` per handler at synth) nor loads it.
 * test/lib/bundling.test.ts checks that loading a bundle loads nothing of these.
 */
const MCP_SDK = '@modelcontextprotocol/sdk';

/** Loaded by the default credential chain only when the environment has no credentials (never in Lambda). */
export const CREDENTIAL_FALLBACKS = [
  '@aws-sdk/credential-provider-http',
  '@aws-sdk/credential-provider-ini',
  '@aws-sdk/credential-provider-login',
  '@aws-sdk/credential-provider-process',
  '@aws-sdk/credential-provider-sso',
  '@aws-sdk/credential-provider-web-identity',
  '@aws-sdk/nested-clients',
  '@aws-sdk/token-providers',
  '@smithy/credential-provider-imds',
];

/** The handler whose bundle leaves the whole SDK to the Lambda runtime. */
const SDK_EXTERNAL = new Set(['call-model']);
/** The client of the optional `lambda` tools: the Lambda runtime's copy, loaded on the first lambda-tool call. */
export const LAMBDA_CLIENT = '@aws-sdk/client-lambda';

/** What a handler's bundle leaves out (see above). */
export function externalModulesOf(handler: string): string[] {
  if (SDK_EXTERNAL.has(handler)) return ['@aws-sdk/*', '@smithy/*', MCP_SDK];
  return [...CREDENTIAL_FALLBACKS, '@smithy/core/event-streams', LAMBDA_CLIENT, MCP_SDK];
}

/** Whether a handler's bundle carries the AWS SDK (else the Lambda runtime provides it). */
export function bundlesSdk(handler: string): boolean {
  return !SDK_EXTERNAL.has(handler);
}

/** ES module builds first: what lets esbuild drop the SDK's unused commands (and Powertools' unused parts). */
export const MAIN_FIELDS = ['module', 'main'];

/**
 * Source maps without the sources: the handlers run with `--enable-source-maps`, which reads the map when the bundle
 * loads; stack traces need the mappings, not the text (the map of a bundle with the SDK is ~3x smaller without it).
 */
export const SOURCES_CONTENT = false;

/** The packages installed next to a handler's bundle (loaded at run time, on first use): the MCP SDK, where MCP tools are configured. */
export function nodeModulesOf(handler: string, tools: readonly { kind: string }[]): string[] {
  const usesMcp = tools.some((t) => t.kind === 'mcp');
  return usesMcp && (handler === 'call-model' || handler === 'call-tool') ? [MCP_SDK] : [];
}

/** The Node.js major the bundles target: Lambda's NODEJS_22_X (lib/functions.ts). */
export const BUNDLE_TARGET = 'node22';

/**
 * The esbuild options lib/functions.ts's bundling comes to for a handler, for the code that builds a handler itself
 * (`npm run bench`, test/lib/bundling.test.ts): what they measure is what is deployed.
 */
export function esbuildOptionsOf(handler: string): BuildOptions {
  return {
    bundle: true,
    minify: true,
    sourcemap: true,
    sourcesContent: SOURCES_CONTENT,
    platform: 'node',
    target: BUNDLE_TARGET,
    format: 'cjs',
    mainFields: MAIN_FIELDS,
    external: externalModulesOf(handler),
    // The API handler serves the trace viewer page, bundled as text.
    loader: { '.html': 'text' },
  };
}
