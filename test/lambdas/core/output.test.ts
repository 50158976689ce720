import { checkOutput, parseAnswerJson, repairPrompt, schemaProblem } from '../../../lambdas/core/output';

const spec = {
  name: 'verdict',
  schema: { type: 'object', properties: { answer: { type: 'string' }, score: { type: 'integer', minimum: 0 } }, required: ['answer', 'score'], additionalProperties: false },
};

describe('structured output', () => {
  it('accepts JSON that satisfies the schema, fenced or not', () => {
    expect(checkOutput(spec, '{"answer": "yes", "score": 3}')).toEqual({ ok: true, value: { answer: 'yes', score: 3 } });
    expect(checkOutput(spec, '```json\n{"answer": "yes", "score": 3}\n```')).toEqual({ ok: true, value: { answer: 'yes', score: 3 } });
    expect(parseAnswerJson(' [1, 2] ')).toEqual([1, 2]);
  });

  it('says why an answer fails: not JSON, or each schema violation with its path', () => {
    const notJson = checkOutput(spec, 'Yes, it is.');
    expect(notJson).toMatchObject({ ok: false });
    expect(!notJson.ok && notJson.problem).toMatch(/^the answer is not JSON/);
    const wrong = checkOutput(spec, '{"answer": 1, "score": -1, "extra": true}');
    expect(!wrong.ok && wrong.problem).toMatch(/\(root\) must NOT have additional properties; \/answer must be string; \/score must be >= 0/);
  });

  it('asks for a repair that shows the schema and the problem', () => {
    const text = repairPrompt(spec, 'the answer is not JSON');
    expect(text).toContain('the answer is not JSON');
    expect(text).toContain(JSON.stringify(spec.schema));
  });

  it('refuses a schema ajv cannot compile, saying why', () => {
    expect(schemaProblem({ type: 'object' })).toBeUndefined();
    expect(schemaProblem({ type: 'objekt' })).toMatch(/is not a valid JSON Schema: .*type/);
    expect(schemaProblem('string')).toMatch(/must be a JSON Schema object/);
    expect(schemaProblem([])).toMatch(/must be a JSON Schema object/);
  });
});
