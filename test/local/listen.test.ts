import { createServer, type IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { KEEP_ALIVE_TIMEOUT_MS, listenLocal, readBody, readJsonObject } from '../../local/listen';

describe('listenLocal', () => {
  it('listens on loopback and keeps idle connections longer than clients keep them (no ECONNRESET race)', async () => {
    const server = createServer((req, res) => {
      void readBody(req, 16).then((body) => res.end(body === undefined ? 'too long' : `got ${body}`));
    });
    const endpoint = await listenLocal(server);
    try {
      expect(endpoint.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      // fetch (undici) keeps an idle connection 4 s, the SDK's agent longer: Node's default of 5 s is too short.
      expect(server.keepAliveTimeout).toBe(KEEP_ALIVE_TIMEOUT_MS);
      expect(KEEP_ALIVE_TIMEOUT_MS).toBeGreaterThanOrEqual(60_000);
      const first = await fetch(endpoint.url, { method: 'POST', body: 'a' });
      expect(await first.text()).toBe('got a');
      const second = await fetch(endpoint.url, { method: 'POST', body: 'x'.repeat(17) });
      expect(await second.text()).toBe('too long');
    } finally {
      await endpoint.close();
    }
  });
});

describe('readJsonObject', () => {
  const request = (text: string) => Readable.from([Buffer.from(text)]) as unknown as IncomingMessage;

  it('reads a JSON object; an empty body is {}', async () => {
    await expect(readJsonObject(request('{"a":1}'), 64)).resolves.toEqual({ a: 1 });
    await expect(readJsonObject(request(''), 64)).resolves.toEqual({});
  });

  it('gives undefined for a body past the limit, not JSON, or not an object', async () => {
    await expect(readJsonObject(request(`{"a":"${'x'.repeat(100)}"}`), 64)).resolves.toBeUndefined();
    await expect(readJsonObject(request('{"a":'), 64)).resolves.toBeUndefined();
    await expect(readJsonObject(request('[1,2]'), 64)).resolves.toBeUndefined();
    await expect(readJsonObject(request('null'), 64)).resolves.toBeUndefined();
  });
});
