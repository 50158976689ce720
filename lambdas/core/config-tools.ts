import { z } from 'zod';

/**
 * The tool entries of the config (`tools`, one schema per kind) and the number shapes the config schema shares
 * (lambdas/core/config.ts): each key described, for the generated reference (docs/config.md).
 */

export const positiveInt = (max: number) => z.number().int().positive().max(max);
/** A client timeout: 100 ms to 840 s (the Lambda and the Task each add their margin on top, and Lambda stops at 900 s). */
export const clientTimeoutMs = (byDefault: number, what: string) => z.number().int().min(100).max(840_000).default(byDefault).describe(what);

const jsonSchemaObject = z.record(z.string(), z.unknown());
const toolName = z.string().regex(/^[a-zA-Z][a-zA-Z0-9_-]{0,63}$/, 'must be 1-64 letters, digits, _ or -, starting with a letter');

/** `approval` of a tool entry. */
const approval = z.literal('required').optional().describe('"required": a person approves or rejects each call before it runs (docs/api.md, approvals).');
const toolDescription = (byDefault: string) => z.string().min(1).default(byDefault).describe('What the tool does, as the model reads it.');
const toolParameters = jsonSchemaObject.default({ type: 'object', properties: {} }).describe('JSON Schema of the arguments object.');
const calledAs = toolName.describe("The tool's name as the model calls it.");
/** The keys a tool kind with an endpoint starts with: its name, its kind (the union's tag), its URL. */
const endpointTool = <K extends string>(kind: K, name: typeof toolName, url: string) => ({ name, kind: z.literal(kind), url: z.url().describe(url) });

export const HttpToolSchema = z
  .strictObject({
    ...endpointTool('http', calledAs, 'The endpoint the arguments are POSTed to.'),
    description: toolDescription('An HTTP tool.'),
    parameters: toolParameters,
    timeoutMs: clientTimeoutMs(5000, 'Client timeout of one call.'),
    approval,
  })
  .describe('An HTTP endpoint: the arguments are POSTed as JSON with an `Idempotency-Key` header (the same on every retry of a call); the response body is the result.');

export const RetrieverToolSchema = z
  .strictObject({
    ...endpointTool('retriever', calledAs, 'The search endpoint.'),
    description: toolDescription('Searches the knowledge base and returns the most relevant passages.'),
    timeoutMs: clientTimeoutMs(3000, 'Client timeout of one search.'),
    fallback: z.enum(['keyword']).default('keyword').describe('What answers when the endpoint fails: the built-in keyword search (the run says it degraded).'),
    approval,
  })
  .describe('An external search endpoint, with the built-in keyword search as its fallback.');

export const McpToolSchema = z
  .strictObject({
    ...endpointTool(
      'mcp',
      toolName.describe("The source's name: the breaker and trace dependency is `tool:<name>`; the prefix when tool names clash."),
      "The server's streamable HTTP endpoint.",
    ),
    headers: z
      .record(z.string().regex(/^[A-Za-z0-9-]+$/, 'must be an HTTP header name'), z.string())
      .default({})
      .describe("Sent on every request to the server. The config is in the handlers' environment: no credentials here (headersSecret)."),
    headersSecret: z
      .string()
      .min(1)
      .optional()
      .describe(
        'Secrets Manager secret (name or ARN) whose value is a JSON object of header → value (e.g. {"Authorization": "Bearer …"}), sent on every request over `headers`; the stack grants read on it to the functions that call the server.',
      ),
    allow: z.array(z.string().min(1)).min(1).optional().describe("Offer only these of the server's tools (by their MCP names); all of them when absent."),
    timeoutMs: clientTimeoutMs(5000, 'Client timeout of one call (connecting, listing and the call itself share it).'),
    listTtlSeconds: z.number().int().min(0).max(86_400).default(300).describe("How long a container keeps the server's tool list before listing again."),
    approval: z.literal('required').optional().describe('"required": every `allow`ed tool of this server waits for a person\'s decision (needs `allow`: the gated names).'),
  })
  .describe('An MCP server over streamable HTTP; its tools (or the `allow`ed subset) are offered to the model.');

export const LambdaToolSchema = z
  .strictObject({
    name: calledAs,
    kind: z.literal('lambda'),
    functionArn: z
      .string()
      .regex(
        /^arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:\d{12}:function:[a-zA-Z0-9_-]{1,64}(:(\$LATEST|[a-zA-Z0-9_-]{1,128}))?$/,
        'must be a Lambda function ARN like arn:aws:lambda:us-east-1:123456789012:function:name (optionally :alias or :version)',
      )
      .describe('The function invoked with the arguments as its event; the stack grants lambda:InvokeFunction on it.'),
    description: toolDescription('A Lambda function.'),
    parameters: toolParameters,
    timeoutMs: clientTimeoutMs(10_000, 'Client timeout of one invocation.'),
    localHandler: z
      .string()
      .regex(/^[^#]+#[A-Za-z_$][A-Za-z0-9_$]*$/, 'must be "path/to/file.ts#exportName"')
      .optional()
      .describe(
        'Offline only (the local engine, `agent run`, `npm start`): a module that stands in for the function, as `path/to/file.ts#exportName` relative to the working directory. Ignored in AWS.',
      ),
    approval,
  })
  .describe("An existing Lambda function, invoked with the model's arguments as its event.");

export const ToolConfigSchema = z.discriminatedUnion('kind', [HttpToolSchema, RetrieverToolSchema, McpToolSchema, LambdaToolSchema]);
