/**
 * The JSON of a structured answer, without the schema check (./output.ts has it, with ajv): the finalize step parses
 * an answer the model step already checked, and should not bundle the validator for that.
 */

/** The answer text as JSON (a fenced ```json block unwrapped); throws SyntaxError when it is not JSON. */
export function parseAnswerJson(text: string): unknown {
  const body = text
    .trim()
    .replace(/^```(?:json)?\s*\n?([\s\S]*?)\n?```$/, '$1')
    .trim();
  return JSON.parse(body);
}

/** The stop reason of a run whose answer never satisfied its schema, even after the repair turn. */
export const OUTPUT_INVALID = 'OUTPUT_INVALID';
