import * as threads from 'node:worker_threads';
import type { AgentConfig } from '../../lib/config';
import { BUNDLES_ENV } from './cli';

const KEY = Symbol.for('agent-test.synth-thread');

/**
 * This jest worker's synth thread. Jest evaluates the CDK afresh for every test file (its module registry is per
 * file), ~8 s of CPU before the first synth of each file on a cold template cache; a thread running the bundled
 * synth (plain Node modules) keeps it loaded for the worker's life. Kept on the worker_threads module, the one
 * object every test file of the worker shares (core modules are not re-evaluated per file).
 */
function synthThread(): threads.Worker | undefined {
  const shared = threads as unknown as Record<symbol, threads.Worker | undefined>;
  if (shared[KEY]) return shared[KEY];
  const bundle = (JSON.parse(process.env[BUNDLES_ENV] ?? '{}') as Record<string, string>)['test/helpers/synth-worker.ts'];
  if (!bundle) return undefined;
  const worker = new threads.Worker(bundle);
  worker.unref();
  shared[KEY] = worker;
  return worker;
}

/**
 * Makes sure the template cache holds the config's template (see local/template.ts, cachedTemplate): synthesized
 * in the synth thread if missing, synchronously. Without the global setup's bundle, nothing: the caller's own
 * cachedTemplate synthesizes in-process as before.
 */
export function warmTemplate(config: AgentConfig): void {
  const worker = synthThread();
  if (!worker) return;
  const { port1, port2 } = new threads.MessageChannel();
  const done = new Int32Array(new SharedArrayBuffer(4));
  worker.postMessage({ config, port: port2, done }, [port2]);
  // Bounded: a synth takes seconds; a thread that never answers is a failure, not a hang.
  const waited = Atomics.wait(done, 0, 0, 300_000);
  const reply = threads.receiveMessageOnPort(port1)?.message as { ok: boolean; message?: string } | undefined;
  port1.close();
  if (waited === 'timed-out' || !reply) throw new Error('the synth thread did not answer within 300 s');
  if (!reply.ok) throw new Error(`synth failed in the synth thread: ${reply.message}`);
}
