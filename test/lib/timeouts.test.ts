import { assertTimeoutChain, deriveTimeoutChain } from '../../lib/timeouts';

describe('the timeout chain', () => {
  it('derives client < Lambda < Task from the client timeout', () => {
    const chain = deriveTimeoutChain(20_000);
    expect(chain.lambdaTimeoutSeconds * 1000).toBeGreaterThan(chain.clientTimeoutMs);
    expect(chain.taskTimeoutSeconds).toBeGreaterThan(chain.lambdaTimeoutSeconds);
    expect(assertTimeoutChain('model', chain)).toBe(chain);
  });

  it('refuses a broken chain and names the three values', () => {
    expect(() => assertTimeoutChain('model calls', { clientTimeoutMs: 30_000, lambdaTimeoutSeconds: 25, taskTimeoutSeconds: 40 })).toThrow(
      'model calls: the timeout chain must hold client timeout < Lambda timeout < Task TimeoutSeconds (and Lambda ≤ 900 s); got client 30000 ms, Lambda 25 s, Task 40 s',
    );
    expect(() => assertTimeoutChain('x', deriveTimeoutChain(900_000))).toThrow(/Lambda 910 s/);
  });
});
