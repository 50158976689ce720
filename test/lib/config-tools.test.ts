import { ConfigError, loadConfig, parseConfig } from '../../lib/config';

describe('config: mcp and lambda tools', () => {
  it('fills the defaults of an mcp entry', () => {
    const [tool] = parseConfig({ tools: [{ name: 'billing', kind: 'mcp', url: 'https://billing.example.com/mcp' }] }).tools;
    expect(tool).toEqual({ name: 'billing', kind: 'mcp', url: 'https://billing.example.com/mcp', headers: {}, timeoutMs: 5000, listTtlSeconds: 300 });
  });

  it('fills the defaults of a lambda entry', () => {
    const [tool] = parseConfig({ tools: [{ name: 'orders', kind: 'lambda', functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:orders' }] }).tools;
    expect(tool).toMatchObject({ kind: 'lambda', description: 'A Lambda function.', parameters: { type: 'object', properties: {} }, timeoutMs: 10_000 });
  });

  it('names each bad key and what is allowed', () => {
    const bad = () =>
      parseConfig({
        tools: [
          { name: 'billing', kind: 'mcp', url: 'not a url', allow: [], headers: { 'bad header': 'x' } },
          { name: 'calculator', kind: 'lambda', functionArn: 'arn:aws:s3:::bucket' },
          { name: 'extra', kind: 'mcp', url: 'https://x.example.com/mcp', secretHeaders: {} },
        ],
      });
    expect(bad).toThrow(ConfigError);
    let message = '';
    try {
      bad();
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('tools[0].url');
    expect(message).toContain('tools[0].allow');
    expect(message).toContain('tools[0].headers');
    expect(message).toMatch(/tools\[1\]\.functionArn: must be a Lambda function ARN/);
    expect(message).toContain('tools[2]: unknown key(s) "secretHeaders"');
  });

  it('an mcp or lambda name may not take a built-in name or another tool name', () => {
    expect(() => parseConfig({ tools: [{ name: 'search_docs', kind: 'mcp', url: 'https://x.example.com/mcp' }] })).toThrow(/"search_docs" is already taken/);
    expect(() =>
      parseConfig({
        tools: [
          { name: 'orders', kind: 'mcp', url: 'https://x.example.com/mcp' },
          { name: 'orders', kind: 'lambda', functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:orders' },
        ],
      }),
    ).toThrow(/"orders" is already taken/);
  });

  it('the example configs are valid', () => {
    expect(loadConfig('examples/mcp-down.json').tools[0]?.kind).toBe('mcp');
    expect(loadConfig('examples/lambda-tool.json').tools[0]).toMatchObject({ kind: 'lambda', localHandler: 'examples/tools/kb-search.ts#handler' });
  });
});
