import { z } from 'zod';

/** The `tools` entries of the config schema (lambdas/core/config.ts): one schema per tool kind (docs/tools.md). */

const jsonSchemaObject = z.record(z.string(), z.unknown());
const toolName = z.string().regex(/^[a-zA-Z][a-zA-Z0-9_-]{0,63}$/, 'must be 1-64 letters, digits, _ or -, starting with a letter');

export const HttpToolSchema = z.strictObject({
  name: toolName,
  kind: z.literal('http'),
  url: z.url(),
  description: z.string().min(1).default('An HTTP tool.'),
  parameters: jsonSchemaObject.default({ type: 'object', properties: {} }),
  timeoutMs: z.number().int().min(100).max(840_000).default(5000),
  /** "required": a person approves or rejects each call before it runs (CONTRACT.md, Tools). */
  approval: z.literal('required').optional(),
});

export const RetrieverToolSchema = z.strictObject({
  name: toolName,
  kind: z.literal('retriever'),
  url: z.url(),
  description: z.string().min(1).default('Searches the knowledge base and returns the most relevant passages.'),
  timeoutMs: z.number().int().min(100).max(840_000).default(3000),
  fallback: z.enum(['keyword']).default('keyword'),
  approval: z.literal('required').optional(),
});

/** An MCP server over streamable HTTP; its tools (or the `allow`ed subset) are offered to the model. */
export const McpToolSchema = z.strictObject({
  /** The source's name: the breaker and trace dependency is `tool:<name>`; the prefix when tool names clash. */
  name: toolName,
  kind: z.literal('mcp'),
  url: z.url(),
  /** Sent on every request to the server. The config is in the handlers' environment: no credentials here (headersSecret). */
  headers: z.record(z.string().regex(/^[A-Za-z0-9-]+$/, 'must be an HTTP header name'), z.string()).default({}),
  /**
   * Secrets Manager secret (name or ARN) whose value is a JSON object of header → value (e.g. {"Authorization":
   * "Bearer …"}), sent on every request over `headers`; the stack grants read on it to the functions that call the server.
   */
  headersSecret: z.string().min(1).optional(),
  /** Offer only these of the server's tools (by their MCP names); all of them when absent. */
  allow: z.array(z.string().min(1)).min(1).optional(),
  /** Client timeout of one call (connecting, listing and the call itself share it). */
  timeoutMs: z.number().int().min(100).max(840_000).default(5000),
  /** How long a container keeps the server's tool list before listing again. */
  listTtlSeconds: z.number().int().min(0).max(86_400).default(300),
  /** "required": every `allow`ed tool of this server waits for a person's decision (needs `allow`: the gated names). */
  approval: z.literal('required').optional(),
});

/** An existing Lambda function, invoked with the model's arguments as its event. */
export const LambdaToolSchema = z.strictObject({
  name: toolName,
  kind: z.literal('lambda'),
  functionArn: z
    .string()
    .regex(
      /^arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:\d{12}:function:[a-zA-Z0-9_-]{1,64}(:(\$LATEST|[a-zA-Z0-9_-]{1,128}))?$/,
      'must be a Lambda function ARN like arn:aws:lambda:us-east-1:123456789012:function:name (optionally :alias or :version)',
    ),
  description: z.string().min(1).default('A Lambda function.'),
  parameters: jsonSchemaObject.default({ type: 'object', properties: {} }),
  timeoutMs: z.number().int().min(100).max(840_000).default(10_000),
  /**
   * Offline only (the local engine, `agent run`, `npm start`): a module that stands in for the function, as
   * `path/to/file.ts#exportName` relative to the working directory. Ignored in AWS.
   */
  localHandler: z
    .string()
    .regex(/^[^#]+#[A-Za-z_$][A-Za-z0-9_$]*$/, 'must be "path/to/file.ts#exportName"')
    .optional(),
  approval: z.literal('required').optional(),
});

export const ToolConfigSchema = z.discriminatedUnion('kind', [HttpToolSchema, RetrieverToolSchema, McpToolSchema, LambdaToolSchema]);

