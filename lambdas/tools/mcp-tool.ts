/**
 * The `mcp` tool kind: an MCP server over streamable HTTP, through the official SDK client.
 *
 * - Listing: the server's tools (or the `allow`ed subset) are listed once per container and kept for
 *   `listTtlSeconds`; concurrent callers share one listing. A failed listing is remembered for a short while
 *   (so a dead server does not cost every model call its timeout) and reported, never thrown: the run goes on
 *   without the server's tools and says so.
 * - Calls: `tools/call` with the model's arguments and `_meta.idempotencyKey` (the same key on every retry of the
 *   same call). A result with `isError` is a result the model reads. Transport failures, HTTP 5xx/408 and timeouts
 *   are thrown as transient taxonomy errors, so the state machine retries them; 429 is RateLimited; other HTTP 4xx
 *   (e.g. a rejected Authorization header) and JSON-RPC errors about the request are BadRequest (a result).
 * - Every request to the server (connect, list, call) goes through `guard("tool:<name>", …)`, the server's breaker.
 * - One client (one MCP session) per server per container; a failure drops it, so the retry reconnects. A request
 *   the server answers 404 (or 400 "no valid session": it restarted and forgot the session) starts a new session
 *   and is sent again once, in the same attempt.
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { ToolConfig } from '../core/config';
import { AgentError, BadRequest, RateLimited, TimeoutError, TransientError } from '../core/errors';
import type { DegradedEntry, ToolSpec } from '../core/types';
import type { SecretReader } from '../providers/secrets';
import { callConfiguredTool, type Guard, identityGuard, isPlainObject } from './http-tool';
import { MAX_CONTENT_BYTES, type ToolContext, type ToolResult, truncateUtf8 } from './types';

export type McpToolConfig = Extract<ToolConfig, { kind: 'mcp' }>;

/** One tool of an MCP server, as listed. */
export interface McpListedTool {
  /** The tool's name on the server. */
  name: string;
  description: string;
  /** Its JSON Schema (`inputSchema`). */
  parameters: Record<string, unknown>;
}

/** A listing; `missing`: the names in `allow` the server does not offer (a notice in the trace, not an error). */
export type McpListing = { ok: true; tools: McpListedTool[]; missing?: string[] } | { ok: false; error: AgentError };

export interface McpSourceDeps {
  guard?: Guard;
  fetchImpl?: typeof fetch;
  clock?: () => number;
  /** Reads `headersSecret` (Secrets Manager in AWS; the local endpoint offline). */
  secrets?: SecretReader;
}

/**
 * The headers of a `headersSecret`: its value must be a JSON object of header name → string. A secret that is not
 * is a BadRequest naming it and what is allowed (a deployment fault, not retried).
 */
export function headersFromSecret(value: string, secretId: string): Record<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    parsed = undefined;
  }
  const entries = isPlainObject(parsed) ? Object.entries(parsed) : undefined;
  if (!entries || entries.some(([k, v]) => typeof v !== 'string' || !/^[A-Za-z0-9-]+$/.test(k))) {
    throw new BadRequest(`secret ${secretId} (headersSecret) must be a JSON object of header name → string value, e.g. {"Authorization": "Bearer …"}`);
  }
  return Object.fromEntries(entries) as Record<string, string>;
}

/** How long a failed listing is remembered (capped by the TTL). */
export const FAILED_LISTING_TTL_MS = 15_000;

const CLIENT_INFO = { name: 'hardened-agent', version: '0.1.0' };

/**
 * The MCP SDK, loaded on the first connection: it carries the full zod and ajv, so the handlers load it only when
 * an MCP server is configured and used (it ships next to the bundle, not in it: lib/bundling.ts).
 */
type McpSdk = typeof import('@modelcontextprotocol/sdk/client/index.js') &
  typeof import('@modelcontextprotocol/sdk/client/streamableHttp.js') &
  typeof import('@modelcontextprotocol/sdk/types.js');
let sdk: Promise<McpSdk> | undefined;
let loadedSdk: McpSdk | undefined;
function loadSdk(): Promise<McpSdk> {
  sdk ??= Promise.all([
    import('@modelcontextprotocol/sdk/client/index.js'),
    import('@modelcontextprotocol/sdk/client/streamableHttp.js'),
    import('@modelcontextprotocol/sdk/types.js'),
  ]).then(([client, transport, types]) => {
    loadedSdk = { ...client, ...transport, ...types } as McpSdk;
    return loadedSdk;
  });
  return sdk;
}

/** JSON-RPC error codes of the MCP protocol (the SDK's ErrorCode). */
const MCP_REQUEST_TIMEOUT = -32001;
const MCP_CONNECTION_CLOSED = -32000;
const MCP_INTERNAL_ERROR = -32603;

/** The SDK's error classes; before the SDK is loaded no error of it can exist but a caller's own, matched by name. */
const isMcpError = (err: unknown): err is Error & { code: number } => err instanceof Error && (loadedSdk ? err instanceof loadedSdk.McpError : err.name === 'McpError');
const isStreamableHttpError = (err: unknown): err is Error & { code?: number } =>
  err instanceof Error && (loadedSdk ? err instanceof loadedSdk.StreamableHTTPError : err.message.startsWith('Streamable HTTP error:'));

/**
 * The server's answer to a request on a session it does not know (any more): HTTP 404 (the MCP spec's "Session not
 * found") or the 400 "No valid session ID" of the SDK's reference server.
 */
export function isSessionGone(err: unknown): boolean {
  if (!isStreamableHttpError(err)) return false;
  return err.code === 404 || (err.code === 400 && /session/i.test(err.message));
}

/** Maps anything the SDK or the transport threw into the taxonomy. */
export function classifyMcpError(err: unknown, label: string): AgentError {
  if (err instanceof AgentError) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (isMcpError(err)) {
    if (err.code === MCP_REQUEST_TIMEOUT) return new TimeoutError(`${label}: ${message}`, { cause: err });
    if (err.code === MCP_CONNECTION_CLOSED || err.code === MCP_INTERNAL_ERROR) return new TransientError(`${label}: ${message}`, { cause: err });
    return new BadRequest(`${label}: ${message}`, { cause: err });
  }
  if (isStreamableHttpError(err)) {
    const status = err.code;
    if (status === 429) return new RateLimited(`${label}: ${message}`, { status, cause: err });
    if (status !== undefined && status >= 400 && status < 500 && status !== 408) return new BadRequest(`${label}: ${message}`, { status, cause: err });
    return new TransientError(`${label}: ${message}`, { ...(status === undefined ? {} : { status }), cause: err });
  }
  if (err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError')) return new TimeoutError(`${label}: ${message}`, { cause: err });
  // fetch failed (connection refused, reset, DNS), a cut-short stream, anything unknown: the server's fault, transient.
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
  return new TransientError(`${label}: ${message}${cause?.code ? ` (${cause.code})` : cause?.message ? ` (${cause.message})` : ''}`, { cause: err });
}

/** A tool result's content blocks as the text the model reads. */
export function contentToText(result: { content?: unknown; structuredContent?: unknown }): string {
  const blocks = Array.isArray(result.content) ? (result.content as Record<string, unknown>[]) : [];
  const parts = blocks.map((b) => {
    if (b.type === 'text') return String(b.text ?? '');
    if (b.type === 'image' || b.type === 'audio') return `[${b.type} ${String(b.mimeType ?? '')}, ${String(b.data ?? '').length} base64 chars]`;
    if (b.type === 'resource_link') return `[resource ${String(b.uri ?? '')}]`;
    if (b.type === 'resource') {
      const r = (b.resource ?? {}) as Record<string, unknown>;
      return typeof r.text === 'string' ? r.text : `[resource ${String(r.uri ?? '')}]`;
    }
    return JSON.stringify(b);
  });
  if (parts.length === 0 && result.structuredContent !== undefined) return JSON.stringify(result.structuredContent);
  return parts.join('\n');
}

/** One MCP server of the config: its cached tool list, its client and its calls. */
export class McpSource {
  readonly dependency: string;
  private readonly guard: Guard;
  private readonly clock: () => number;
  private client?: Promise<Client>;
  private listing?: { at: number; value: McpListing };
  private listingInFlight?: Promise<McpListing>;

  constructor(
    readonly config: McpToolConfig,
    private readonly deps: McpSourceDeps = {},
  ) {
    this.dependency = `tool:${config.name}`;
    this.guard = deps.guard ?? identityGuard;
    this.clock = deps.clock ?? Date.now;
  }

  /** The server's tools (the allowed ones), from the cache while it is fresh. Never throws. */
  async list(): Promise<McpListing> {
    const cached = this.listing;
    if (cached) {
      const ttl = cached.value.ok ? this.config.listTtlSeconds * 1000 : Math.min(FAILED_LISTING_TTL_MS, this.config.listTtlSeconds * 1000);
      if (this.clock() - cached.at < ttl) return cached.value;
    }
    if (!this.listingInFlight) {
      this.listingInFlight = this.fetchListing().finally(() => {
        this.listingInFlight = undefined;
      });
    }
    return this.listingInFlight;
  }

  /** Forgets the cached listing (the next `list` asks the server). */
  invalidate(): void {
    this.listing = undefined;
  }

  private async fetchListing(): Promise<McpListing> {
    let value: McpListing;
    try {
      const tools = await this.request(async (client, timeout) => {
        const out: McpListedTool[] = [];
        let cursor: string | undefined;
        // Bounded: at most 20 pages.
        for (let page = 0; page < 20; page++) {
          const res = await client.listTools(cursor ? { cursor } : undefined, { timeout: timeout() });
          for (const t of res.tools) {
            out.push({
              name: t.name,
              description: t.description ?? t.title ?? `The ${t.name} tool of ${this.config.name}.`,
              parameters: (t.inputSchema ?? { type: 'object' }) as Record<string, unknown>,
            });
          }
          cursor = res.nextCursor;
          if (!cursor) break;
        }
        return out;
      });
      const allow = this.config.allow;
      const missing = allow?.filter((name) => !tools.some((t) => t.name === name)) ?? [];
      value = { ok: true, tools: allow ? tools.filter((t) => allow.includes(t.name)) : tools, ...(missing.length ? { missing } : {}) };
    } catch (err) {
      value = { ok: false, error: classifyMcpError(err, `MCP server ${this.config.name}`) };
    }
    this.listing = { at: this.clock(), value };
    return value;
  }

  /**
   * Calls one tool. An `isError` result is returned as an error result; failures are thrown as taxonomy errors.
   */
  async call(toolName: string, args: Record<string, unknown>, ctx: ToolContext): Promise<ToolResult> {
    const result = await this.request((client, timeout) =>
      client.callTool({ name: toolName, arguments: args, _meta: { idempotencyKey: ctx.idempotencyKey } }, undefined, {
        timeout: timeout(),
        ...(ctx.signal ? { signal: ctx.signal } : {}),
      }),
    );
    const text = contentToText(result as { content?: unknown; structuredContent?: unknown });
    const content = truncateUtf8(text.trim() === '' ? '(empty result)' : text, MAX_CONTENT_BYTES);
    return {
      content,
      ...(result.isError ? { isError: true } : {}),
      data: { server: this.config.name, tool: toolName, ...(result.isError ? { error: 'ToolError' } : {}) },
      source: `mcp:${this.config.name}/${toolName}`,
    };
  }

  /**
   * Runs `fn` with a connected client behind the breaker, all of it within `timeoutMs` (connecting included).
   * Any failure closes the client: the next request (the retry) connects afresh.
   */
  private async request<T>(fn: (client: Client, timeout: () => number) => Promise<T>): Promise<T> {
    const deadline = this.clock() + this.config.timeoutMs;
    const timeout = () => Math.max(1, deadline - this.clock());
    const label = `MCP server ${this.config.name}`;
    return this.guard(this.dependency, async () => {
      let timer: NodeJS.Timeout | undefined;
      const expired = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new TimeoutError(`${label}: no answer within ${this.config.timeoutMs} ms`)), this.config.timeoutMs);
      });
      const attempt = async () => {
        const client = await Promise.race([this.connect(timeout), expired]);
        return await Promise.race([fn(client, timeout), expired]);
      };
      try {
        try {
          return await attempt();
        } catch (err) {
          if (!isSessionGone(err)) throw err;
          // The server no longer knows this session (it restarted): the MCP spec says the client starts a new one.
          // Once, within the same deadline and breaker call, so the model never sees the restart.
          await this.drop();
          return await attempt();
        }
      } catch (err) {
        await this.drop();
        throw classifyMcpError(err, label);
      } finally {
        clearTimeout(timer);
      }
    });
  }

  /** The literal headers, and over them those of `headersSecret` (read through the secrets reader's cache). */
  private async headers(): Promise<Record<string, string>> {
    const secretId = this.config.headersSecret;
    if (!secretId) return { ...this.config.headers };
    if (!this.deps.secrets) throw new BadRequest(`MCP server ${this.config.name}: headersSecret ${secretId} is set but no Secrets Manager reader is available`);
    return { ...this.config.headers, ...headersFromSecret(await this.deps.secrets(secretId), secretId) };
  }

  private connect(timeout: () => number): Promise<Client> {
    if (!this.client) {
      this.client = loadSdk().then(async ({ Client, StreamableHTTPClientTransport }) => {
        const transport = new StreamableHTTPClientTransport(new URL(this.config.url), {
          requestInit: { headers: await this.headers() },
          ...(this.deps.fetchImpl ? { fetch: this.deps.fetchImpl } : {}),
        });
        const client = new Client(CLIENT_INFO, { capabilities: {} });
        await client.connect(transport, { timeout: timeout() });
        return client;
      });
      this.client.catch(() => undefined);
    }
    return this.client;
  }

  private async drop(): Promise<void> {
    const pending = this.client;
    this.client = undefined;
    if (!pending) return;
    try {
      await (await pending).close();
    } catch {
      // never connected, or already closed
    }
  }

  /** Closes the session (tests; containers just freeze). */
  async close(): Promise<void> {
    await this.drop();
  }
}

/** Tool names models accept: letters, digits, _ and -, at most 64. */
export function safeToolName(name: string): string {
  const cleaned = name.replace(/[^a-zA-Z0-9_-]/g, '_').slice(0, 64);
  return cleaned || 'tool';
}

/** A listed MCP tool as the model sees it, under the name the catalog gave it. */
export interface OfferedMcpTool {
  spec: ToolSpec;
  source: McpSource;
  /** Its name on the server. */
  remoteName: string;
}

/**
 * Names the MCP tools for the model: each keeps its own name (made safe for the model APIs) unless another source
 * offers the same name — a built-in, a configured tool or another server's tool — then every clashing MCP tool is
 * offered as `<server>__<tool>`. Static tools always keep their names.
 */
export function nameMcpTools(staticNames: Iterable<string>, listings: { source: McpSource; tools: McpListedTool[] }[]): OfferedMcpTool[] {
  const counts = new Map<string, number>();
  for (const name of staticNames) counts.set(name, (counts.get(name) ?? 0) + 1);
  for (const { tools } of listings) for (const t of tools) counts.set(safeToolName(t.name), (counts.get(safeToolName(t.name)) ?? 0) + 1);
  const out: OfferedMcpTool[] = [];
  const taken = new Set(staticNames);
  for (const { source, tools } of listings) {
    for (const t of tools) {
      const own = safeToolName(t.name);
      let name = (counts.get(own) ?? 0) > 1 ? safeToolName(`${source.config.name}__${t.name}`) : own;
      // Still taken (a server with two tools that clean up alike): number it, bounded by the list's size.
      for (let i = 2; taken.has(name) && i < 1000; i++) name = safeToolName(`${source.config.name}__${t.name}`).slice(0, 60) + `_${i}`;
      taken.add(name);
      out.push({ spec: { name, description: t.description, parameters: t.parameters }, source, remoteName: t.name });
    }
  }
  return out;
}

/** Runs one call of an offered MCP tool: arguments must be an object; the breaker and the taxonomy apply. */
export async function runMcpTool(tool: OfferedMcpTool, args: unknown, ctx: ToolContext): Promise<ToolResult> {
  return callConfiguredTool(tool.spec.name, tool.source.dependency, args, ['CircuitOpen'], (body) => tool.source.call(tool.remoteName, body, ctx));
}

/** The degraded entry of a server whose tools could not be listed. */
export function unavailableEntry(source: McpSource, error: AgentError): DegradedEntry {
  return { dependency: source.dependency, reason: error.name, fallback: 'none' };
}
