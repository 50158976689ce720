import Ajv, { type ValidateFunction } from 'ajv';
import { parseAnswerJson } from './output-json';

/**
 * Structured output (docs/agent.md): the final answer must be JSON satisfying a JSON Schema, from the config's
 * `output` or a run's `outputSchema`. The providers request it natively (OpenAI `response_format` json_schema, a
 * forced tool for Anthropic and Bedrock); the answer is checked here with ajv, given one repair turn when it fails
 * (lambdas/core/steps/call-model.ts), and a run whose answer never satisfies the schema ends UNFINISHED /
 * OUTPUT_INVALID with the raw answer kept.
 */

/** What a run's final answer must satisfy. */
export interface OutputSpec {
  schema: Record<string, unknown>;
  name: string;
}

export { OUTPUT_INVALID, parseAnswerJson } from './output-json';

/** Longest `outputSchema` a request may carry (serialized). */
export const MAX_OUTPUT_SCHEMA_BYTES = 16 * 1024;

const ajv = new Ajv({ allErrors: true, strict: false });
const compiled = new Map<string, ValidateFunction>();

/** The schema compiled (cached by its text); throws with ajv's message when it is not a valid JSON Schema. */
function validatorOf(schema: Record<string, unknown>): ValidateFunction {
  const key = JSON.stringify(schema);
  let validate = compiled.get(key);
  if (!validate) {
    validate = ajv.compile(schema);
    if (compiled.size > 64) compiled.clear();
    compiled.set(key, validate);
  }
  return validate;
}

/** Undefined when `schema` is a JSON Schema ajv compiles; else why not (for a 4xx or a config error). */
export function schemaProblem(schema: unknown): string | undefined {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) return 'must be a JSON Schema object, e.g. {"type": "object", "properties": {…}}';
  try {
    validatorOf(schema as Record<string, unknown>);
    return undefined;
  } catch (err) {
    return `is not a valid JSON Schema: ${(err as Error).message}`;
  }
}

export type OutputCheck = { ok: true; value: unknown } | { ok: false; problem: string };

/** The answer text parsed (a fenced ```json block is unwrapped) and checked against the schema. */
export function checkOutput(spec: OutputSpec, text: string): OutputCheck {
  let value: unknown;
  try {
    value = parseAnswerJson(text);
  } catch (err) {
    return { ok: false, problem: `the answer is not JSON (${(err as Error).message})` };
  }
  const validate = validatorOf(spec.schema);
  if (validate(value)) return { ok: true, value };
  const problems = (validate.errors ?? []).slice(0, 10).map((e) => `${e.instancePath || '(root)'} ${e.message ?? 'is invalid'}`);
  return { ok: false, problem: `the answer does not satisfy the schema: ${problems.join('; ')}` };
}

/** The user turn that asks for one repair of an answer that failed its schema. */
export function repairPrompt(spec: OutputSpec, problem: string): string {
  return `Your final answer must be a single JSON value that satisfies this JSON Schema (${spec.name}), with nothing else around it. ${problem}. Answer again with the corrected JSON only.\nSchema: ${JSON.stringify(spec.schema)}`;
}
