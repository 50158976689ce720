import { createServer } from 'node:http';
import { KEEP_ALIVE_TIMEOUT_MS, listenLocal, readBody } from '../../local/listen';

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
