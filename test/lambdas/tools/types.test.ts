import * as z from '../../../lambdas/core/validation';
import { calculatorTool } from '../../../lambdas/tools/calculator';
import { createSearchDocsTool, SearchDocsArgs } from '../../../lambdas/tools/keyword-search';
import { allowedArguments, argumentsSchema, toolParameters } from '../../../lambdas/tools/types';

describe('a tool argument schema is declared once (zod) and read three ways', () => {
  const Args = z.object({
    name: z.string().check(z.minLength(2), z.maxLength(5), z.describe('Who.')),
    n: z.optional(z.int().check(z.minimum(1), z.maximum(9), z.describe('How many.'))),
  });

  it('the JSON Schema the model sees carries the zod constraints and descriptions', () => {
    expect(toolParameters(Args)).toEqual({
      type: 'object',
      properties: { name: { type: 'string', minLength: 2, maxLength: 5, description: 'Who.' }, n: { type: 'integer', minimum: 1, maximum: 9, description: 'How many.' } },
      required: ['name'],
      additionalProperties: false,
    });
  });

  it('the "Allowed:" text is written from the same schema', () => {
    expect(allowedArguments(toolParameters(Args), 'more')).toBe('{"name": string, "n"?: integer}; name (2-5 characters): Who; n (1-9): How many; more');
  });

  it('a tool generates them on first use, not when its module loads (call-tool reads them only for invalid arguments)', () => {
    const args = argumentsSchema(Args, 'more');
    expect(args.parameters).toEqual(toolParameters(Args));
    expect(args.parameters).toBe(args.parameters); // generated once
    expect(args.allowed).toBe(allowedArguments(toolParameters(Args), 'more'));
    // Nothing is generated before a read: a schema the generator cannot read fails at the read only.
    const unreadable = argumentsSchema({} as never);
    expect(() => unreadable.parameters).toThrow();
  });

  it('the built-ins offer what they validate', async () => {
    const spec = createSearchDocsTool().spec.parameters as { properties: { query: { maxLength: number } } };
    const limit = spec.properties.query.maxLength;
    expect(SearchDocsArgs.safeParse({ query: 'x'.repeat(limit) }).success).toBe(true);
    expect(SearchDocsArgs.safeParse({ query: 'x'.repeat(limit + 1) }).success).toBe(false);
    const calc = calculatorTool.spec.parameters as { required: string[]; properties: Record<string, unknown> };
    expect(Object.keys(calc.properties)).toEqual(calc.required);
    expect((await calculatorTool.run({}, { runId: 'r', step: 1, toolCallId: 't', idempotencyKey: 'k' } as never)).content).toContain('expression (1-1000 characters)');
  });
});
