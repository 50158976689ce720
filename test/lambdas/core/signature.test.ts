import { callSignature, canonicalJson } from '../../../lambdas/core/signature';

describe('tool call signatures (repetition detector)', () => {
  it('ignores key order and whitespace', () => {
    expect(canonicalJson(JSON.parse('{ "b": 1, "a": {"y": [1, 2], "x": null} }'))).toBe('{"a":{"x":null,"y":[1,2]},"b":1}');
    expect(callSignature([{ name: 'search', arguments: { q: 'x', k: 3 } }])).toBe(callSignature([{ name: 'search', arguments: { k: 3, q: 'x' } }]));
  });
  it('treats the calls of one step as a set', () => {
    const a = { name: 'calculator', arguments: { expression: '1+1' } };
    const b = { name: 'search_docs', arguments: { query: 'x' } };
    expect(callSignature([a, b])).toBe(callSignature([b, a]));
  });
  it('tells different calls apart', () => {
    expect(callSignature([{ name: 't', arguments: { q: 1 } }])).not.toBe(callSignature([{ name: 't', arguments: { q: 2 } }]));
    expect(callSignature([{ name: 't', arguments: {} }])).not.toBe(callSignature([{ name: 'u', arguments: {} }]));
    expect(callSignature([])).toBe('');
  });
});
