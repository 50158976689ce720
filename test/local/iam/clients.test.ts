import { asCaller, clientConfigOf, currentCaller, routeByCaller } from '../../../local/iam/clients';

class FakeClient {
  sent: string[] = [];
  destroyed = false;
  constructor(readonly name: string) {}
  send(command: string): Promise<string> {
    this.sent.push(command);
    return Promise.resolve(`${this.name}:${command}`);
  }
  destroy(): void {
    this.destroyed = true;
  }
}

describe("routing a shared client's requests to the running function's own client", () => {
  it("sends with the caller's client inside a handler (across awaits), with the shared client outside", async () => {
    const shared = new FakeClient('admin');
    const made: FakeClient[] = [];
    const destroy = routeByCaller(shared, (id) => {
      const c = new FakeClient(id);
      made.push(c);
      return c;
    });
    expect(await shared.send('outside')).toBe('admin:outside');
    const [a, b] = await Promise.all([
      asCaller('LoadRun', async () => {
        await new Promise((r) => setTimeout(r, 5));
        return shared.send('get');
      }),
      asCaller('CallModel', () => shared.send('put')),
    ]);
    expect([a, b]).toEqual(['LoadRun:get', 'CallModel:put']);
    await asCaller('LoadRun', () => shared.send('again'));
    expect(made.map((c) => c.name).sort()).toEqual(['CallModel', 'LoadRun']); // one client per function, reused
    expect(currentCaller()).toBeUndefined();
    destroy();
    expect(made.every((c) => c.destroyed)).toBe(true);
  });

  it("gives a function's clients credentials whose access key id names it", () => {
    expect(clientConfigOf('CallToolFunction', 'http://127.0.0.1:1')).toEqual({
      endpoint: 'http://127.0.0.1:1',
      region: 'local',
      credentials: { accessKeyId: 'LOCAL-CallToolFunction', secretAccessKey: 'local' },
    });
  });
});
