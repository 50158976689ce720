/**
 * The thread behind test/helpers/synth-thread.ts: puts a config's template into the template cache (synthesizing it
 * on a miss), with the CDK loaded once per jest worker instead of once per test file.
 */
import { parentPort } from 'node:worker_threads';
import type { AgentConfig } from '../../lib/config';
import { cachedTemplate } from '../../local/template';

interface Request {
  config: AgentConfig;
  port: import('node:worker_threads').MessagePort;
  done: Int32Array;
}

parentPort?.on('message', ({ config, port, done }: Request) => {
  try {
    cachedTemplate(config);
    port.postMessage({ ok: true });
  } catch (err) {
    port.postMessage({ ok: false, message: (err as Error).stack ?? String(err) });
  }
  Atomics.store(done, 0, 1);
  Atomics.notify(done, 0);
});
