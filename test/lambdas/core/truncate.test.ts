import { parseTruncation, truncateUtf8, utf8Boundary } from '../../../lambdas/core/truncate';
import { clampText } from '../../../lambdas/store/run-store';

const dropped = (text: string) => parseTruncation(text).omitted;

describe('truncateUtf8: the marker states the bytes dropped from the original', () => {
  it('cuts on a character boundary and counts the bytes left out', () => {
    const text = 'é'.repeat(10); // 20 bytes
    expect(truncateUtf8(text, 5)).toBe('éé…[truncated 16 bytes]');
    expect(truncateUtf8('short', 10)).toBe('short');
    expect(utf8Boundary(Buffer.from('aé'), 2)).toBe(1);
  });

  it('a second cut adds to the first cut instead of counting only the first marker', () => {
    const original = 'x'.repeat(2 * 1024 * 1024);
    const first = truncateUtf8(original, 16_384);
    expect(dropped(first)).toBe(original.length - 16_384);
    // The same budget again (the registry's cap after the http tool's): unchanged, the count still true.
    expect(truncateUtf8(first, 16_384)).toBe(first);
    // A smaller budget: the count grows by exactly what this cut drops.
    const second = truncateUtf8(first, 1000);
    expect(parseTruncation(second).kept).toHaveLength(1000);
    expect(dropped(second)).toBe(original.length - 1000);
    // The store's clamp (DynamoDB item limit) is the same function.
    expect(dropped(clampText(second, 10))).toBe(original.length - 10);
  });

  it('bytes never read are counted, and a lower bound says "at least"', () => {
    expect(truncateUtf8('abc', 10, 7)).toBe('abc…[truncated 7 bytes]');
    expect(truncateUtf8('abcdef', 3, 5, true)).toBe('abc…[truncated at least 8 bytes]');
    expect(truncateUtf8(truncateUtf8('abcdef', 3, 5, true), 1)).toBe('a…[truncated at least 10 bytes]');
  });
});
