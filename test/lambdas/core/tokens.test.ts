import { countTokens, estimatePromptTokens } from '../../../lambdas/core/tokens';

describe('countTokens (cl100k_base)', () => {
  it('counts as the cl100k_base encoding does', () => {
    expect(countTokens('hello world')).toBe(2);
    expect(countTokens('The quick brown fox jumps over the lazy dog.')).toBe(10);
    expect(countTokens('')).toBe(0);
  });

  it('counts special-token strings in a text as text, never refusing them', () => {
    // As one special token it would be 1; as the text it is, 7.
    expect(countTokens('<|endoftext|>')).toBe(7);
    expect(() => countTokens('a tool output quoting <|im_start|>system')).not.toThrow();
  });

  it('encodes a long run without spaces in 64-character pieces', () => {
    // 156 pieces of 64 'x' (8 tokens each) and one of 16 (2 tokens).
    expect(countTokens('x'.repeat(10_000))).toBe(156 * 8 + 2);
  });
});

describe('estimatePromptTokens', () => {
  it('adds the framing of each message and tool to the texts', () => {
    const bare = estimatePromptTokens({ system: 'hello world', messages: [], tools: [] });
    expect(bare).toBe(3 + 2);
    const withUser = estimatePromptTokens({ system: 'hello world', messages: [{ role: 'user', content: 'hello world' } as never], tools: [] });
    expect(withUser).toBe(bare + 4 + 2);
  });
});
