/**
 * Types and small helpers shared by every tool. Kept apart from registry.ts so that tool modules can import them
 * without a runtime import cycle (registry.ts imports the tools and re-exports these).
 */

import type { $ZodType } from 'zod/v4/core';
import { AgentError, toAgentError } from '../core/errors';
import { truncateUtf8 as truncate } from '../core/truncate';
import type { ToolResult } from '../core/types';
import type { ValidationIssues } from '../core/validation';
import * as z from '../core/validation';

export { idempotencyKeyFor } from '../core/signature';
export type { Tool, ToolContext, ToolResult } from '../core/types';

/** Upper bound of a tool result's content, in UTF-8 bytes. */
export const MAX_CONTENT_BYTES = 16 * 1024;

/** Error names that must be thrown so the state machine retries the call. */

/** True for errors the state machine retries (TransientError, TimeoutError, RateLimited). */
export function isTransient(err: unknown): boolean {
  return err instanceof AgentError && err.retryable;
}

/**
 * Turns a failure into what `Tool.run` must do with it: transient errors are returned for re-throwing (classified
 * into the taxonomy; unknown errors count as transient), anything else becomes an `isError` result for the model.
 */
export function errorToResult(toolName: string, err: unknown): ToolResult {
  const e = toAgentError(err);
  if (isTransient(e)) throw e;
  return { content: `${toolName} failed (${e.name}): ${e.message}`, isError: true, data: { error: e.name } };
}

/** A property of a tool's JSON Schema, as far as {@link allowedArguments} reads it. */
interface JsonSchemaProperty {
  type?: string;
  description?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
}

/**
 * The JSON Schema the model sees for a tool's arguments, generated from the zod schema that validates them (one
 * declaration: constraints and descriptions are written once, on the zod schema).
 */
export function toolParameters(schema: $ZodType): Record<string, unknown> {
  const { $schema: _dialect, ...parameters } = z.toJSONSchema(schema) as Record<string, unknown>;
  return parameters;
}

/** A tool's arguments as the model is told them: their JSON Schema, and what an invalid-arguments result says is allowed. */
export interface ArgumentsSchema {
  readonly parameters: Record<string, unknown>;
  readonly allowed: string;
}

/**
 * The {@link toolParameters} and {@link allowedArguments} of a zod schema, generated on first use and kept (a
 * getter), not when the module loads: call-tool reads them only to describe invalid arguments, so its module init
 * does not run the JSON Schema generator (call-model reads them at its first model call instead of at init).
 */
export function argumentsSchema(schema: $ZodType, extra?: string): ArgumentsSchema {
  let parameters: Record<string, unknown> | undefined;
  let allowed: string | undefined;
  return {
    get parameters() {
      parameters ??= toolParameters(schema);
      return parameters;
    },
    get allowed() {
      allowed ??= allowedArguments(this.parameters, extra);
      return allowed;
    },
  };
}

/**
 * What an invalid-arguments result says is allowed, written from the tool's JSON Schema: the shape
 * (`{"query": string, "k"?: integer}`), then each field's bounds and description; `extra` follows.
 */
export function allowedArguments(parameters: Record<string, unknown>, extra?: string): string {
  const properties = (parameters.properties ?? {}) as Record<string, JsonSchemaProperty>;
  const required = new Set((parameters.required ?? []) as string[]);
  const names = Object.keys(properties);
  const shape = `{${names.map((n) => `"${n}"${required.has(n) ? '' : '?'}: ${properties[n]?.type ?? 'any'}`).join(', ')}}`;
  const range = (min: number | undefined, max: number | undefined, unit: string) =>
    min !== undefined && max !== undefined ? `${min}-${max}${unit}` : max !== undefined ? `at most ${max}${unit}` : min !== undefined ? `at least ${min}${unit}` : undefined;
  const fields = names.flatMap((n) => {
    const p = properties[n] ?? {};
    const bounds = p.type === 'string' ? range(p.minLength, p.maxLength, ' characters') : range(p.minimum, p.maximum, '');
    const description = p.description?.replace(/\.$/, '');
    if (!bounds && !description) return [];
    return [`${n}${bounds ? ` (${bounds})` : ''}${description ? `: ${description}` : ''}`];
  });
  return [shape, ...fields, ...(extra ? [extra] : [])].join('; ');
}

/** The result for arguments that are not a JSON object (null, an array, a string...): the call is never executed. */
export function notAnObjectResult(toolName: string, args: unknown): ToolResult {
  const got = args === null ? 'null' : Array.isArray(args) ? 'an array' : typeof args;
  return { content: `invalid arguments for ${toolName}: expected a JSON object matching the tool's parameters schema, got ${got}`, isError: true, data: { error: 'BadRequest' } };
}

/** Formats zod issues as "path: message" lines, followed by what is allowed. */
export function invalidArgumentsResult(toolName: string, error: ValidationIssues, allowed: string): ToolResult {
  const problems = error.issues
    .map((issue) => {
      const path = issue.path.map(String).join('.');
      return `${path || '(arguments)'}: ${issue.message}`;
    })
    .join('; ');
  return {
    content: `invalid arguments for ${toolName}: ${problems}. Allowed: ${allowed}`,
    isError: true,
    data: { error: 'BadRequest' },
  };
}

/**
 * Cuts `text` to at most `maxBytes` UTF-8 bytes (never inside a character) and appends "…[truncated N bytes]",
 * N being every byte of the original left out (plus `extraOmitted`, bytes never read). A text cut before keeps
 * its true count (lambdas/core/truncate.ts).
 */
export function truncateUtf8(text: string, maxBytes = MAX_CONTENT_BYTES, extraOmitted = 0, extraAtLeast = false): string {
  return truncate(text, maxBytes, extraOmitted, extraAtLeast);
}
