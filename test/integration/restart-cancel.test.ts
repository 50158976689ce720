import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TraceEvent } from '../../lambdas/core/types';
import { parseConfig } from '../../lib/config';
import { type FakeProvider, startFakeProvider } from '../../testing/fake-providers';
import { type Loopback, startLoopback } from '../../testing/loopback';
import { sleep, until } from '../helpers/async';
import { spawnEntry } from '../helpers/cli';
import { templateFor } from '../helpers/engine';

/**
 * Issue 21, "Done when": after a kill -9 of the server (`npm start`), a restart on the same data and an immediate
 * cancel of every run, no model or tool request reaches the provider once the calls in flight at cancel time have
 * returned. The server is a child process in its own process group on an on-disk data dir; the model and the tool
 * are slow loopback fakes that stamp every request they receive.
 */

const root = join(__dirname, '..', '..');
const RUNS = 10;
const MODEL_MS = 300;
const TOOL_MS = 100;
const TOKEN = 'restart-cancel-token';

/** Waits for `p`, at most `ms` (the timer is cleared, so no handle outlives the test). */
const within = async (p: Promise<unknown>, ms: number) => {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p, new Promise((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
};

interface Server {
  proc: ChildProcess;
  url: string;
  exited: Promise<void>;
}

/** `agent serve` on an ephemeral port (and ephemeral local AWS ports), in a process group of its own. */
async function serve(configFile: string, dataDir: string): Promise<Server> {
  const proc = spawnEntry('bin/agent.ts', ['serve', '--config', configFile, '--data', dataDir, '--port', '0'], {
    cwd: root,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PORT: '0', SFN_PORT: '0', DYNAMODB_PORT: '0' },
  });
  let out = '';
  let err = '';
  proc.stdout?.on('data', (c: Buffer) => {
    out += c.toString();
  });
  proc.stderr?.on('data', (c: Buffer) => {
    err += c.toString();
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  let url: string | undefined;
  await until(
    'the server to listen',
    () => {
      if (proc.exitCode !== null) throw new Error(`server exited ${proc.exitCode}: ${err}`);
      url = /Agent API listening on (http:\/\/localhost:\d+)/.exec(out)?.[1];
      return url !== undefined;
    },
    60_000,
  ).catch((e) => {
    killGroup(proc);
    throw new Error(`${(e as Error).message}\nstdout: ${out}\nstderr: ${err}`);
  });
  return { proc, url: url as string, exited };
}

/** kill -9 of the server's whole process group. */
function killGroup(proc: ChildProcess): void {
  try {
    if (proc.pid) process.kill(-proc.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

async function api(server: Server, method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(20_000),
  });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

describe('kill -9, restart, cancel every run at once (issue 21)', () => {
  let model: FakeProvider;
  let tools: Loopback;
  let dataDir: string;
  const servers: Server[] = [];
  /** Arrival time of every model request and every tool request. */
  const modelAt: number[] = [];
  const toolAt: number[] = [];

  beforeAll(async () => {
    model = await startFakeProvider('openai');
    // A slow model that never finishes on its own: one charge per step, a new amount each time.
    model.respondWith((body) => {
      modelAt.push(Date.now());
      const done = (body.messages as { role: string }[]).filter((m) => m.role === 'tool').length;
      // biome-ignore lint/suspicious/noThenProperty: a scripted reply's follow-up, not a thenable
      return { kind: 'delay', ms: MODEL_MS, then: { kind: 'tools', calls: [{ name: 'charge', args: { amount: done + 1 } }] } };
    });
    tools = await startLoopback();
    tools.on('/charge', (_req, res) => {
      toolAt.push(Date.now());
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"ok":true}');
      }, TOOL_MS);
    });
    dataDir = mkdtempSync(join(tmpdir(), 'agent-restart-cancel-'));
  });
  afterAll(async () => {
    for (const s of servers) {
      killGroup(s.proc);
      await within(s.exited, 5_000);
    }
    await model.close();
    await tools.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('every run ends CANCELLED and no model or tool request reaches the provider after the calls in flight return', async () => {
    const config = {
      models: { primary: { provider: 'openai', model: 'slow', baseUrl: model.baseUrl, timeoutMs: 10_000, contextWindowTokens: 128_000 } },
      tools: [{ name: 'charge', kind: 'http', url: tools.url('/charge'), timeoutMs: 10_000 }],
      budgets: { maxSteps: 40 },
      localTokens: { [TOKEN]: 'user-a' },
    };
    templateFor(parseConfig(config)); // synthesize once, outside the children's time
    const configFile = join(dataDir, '..', `${dataDir.split('/').at(-1)}.config.json`);
    writeFileSync(configFile, JSON.stringify(config));
    try {
      // 1. N runs in flight on the first server.
      const first = await serve(configFile, dataDir);
      servers.push(first);
      const started = await Promise.all(Array.from({ length: RUNS }, (_, i) => api(first, 'POST', '/runs', { input: `Charge run ${i} forever.` })));
      expect(started.map((r) => r.status)).toEqual(Array(RUNS).fill(202));
      const ids = started.map((r) => String(r.json.runId));
      expect(new Set(ids).size).toBe(RUNS);
      // Each run a step or more in: every run has had a model request, and some tool calls happened.
      await until('model requests of every run and some tool calls', () => modelAt.length >= RUNS * 2 && toolAt.length >= RUNS);

      // 2. kill -9 of the server's process group, with calls in flight.
      killGroup(first.proc);
      await within(first.exited, 10_000);
      expect(first.proc.signalCode).toBe('SIGKILL');

      // 3. Restart on the same data; 4. cancel every run at once, as soon as it serves.
      const second = await serve(configFile, dataDir);
      servers.push(second);
      const cancels = await Promise.all(ids.map((id) => api(second, 'POST', `/runs/${id}/cancel`)));
      expect(cancels.map((c) => c.status)).toEqual(Array(RUNS).fill(202));
      const cancelledAt = Date.now();

      // 5. The calls in flight at cancel time return (a model call takes MODEL_MS, a tool call TOOL_MS); then a
      // window of several model calls in which nothing may arrive.
      const settledAt = cancelledAt + MODEL_MS + TOOL_MS + 500;
      await sleep(settledAt - Date.now() + MODEL_MS * 5);
      const late = { model: modelAt.filter((t) => t > settledAt).length, tools: toolAt.filter((t) => t > settledAt).length };
      expect(late).toEqual({ model: 0, tools: 0 });
      // At most one request per run may have raced the cancel (a step that read RUNNING just before it).
      expect(modelAt.filter((t) => t > cancelledAt).length + toolAt.filter((t) => t > cancelledAt).length).toBeLessThanOrEqual(RUNS);

      // 6. Every run CANCELLED, and nothing but discarded in-flight calls traced after its `cancelled` event.
      for (const id of ids) {
        const run = await api(second, 'GET', `/runs/${id}`);
        expect({ id, status: run.json.status }).toEqual({ id, status: 'CANCELLED' });
        const trace = await api(second, 'GET', `/runs/${id}/trace`);
        expect(trace.status).toBe(200);
        const events = (trace.json.events ?? trace.json.items) as TraceEvent[];
        expect(Array.isArray(events)).toBe(true);
        const types = events.map((e) => e.type);
        expect(types).toEqual(expect.arrayContaining(['engine_restarted', 'cancelled']));
        expect(types.filter((t) => t === 'cancelled')).toHaveLength(1);
        const after = events.slice(types.indexOf('cancelled') + 1);
        const forbidden = after.filter(
          (e) => e.type === 'run_finished' || ((e.type === 'model_call' || e.type === 'tool_call') && e.discarded === undefined) || e.type === 'surrender',
        );
        expect({ id, forbidden: forbidden.map((e) => e.type) }).toEqual({ id, forbidden: [] });
        expect(types.filter((t) => t === 'run_finished').length).toBeLessThanOrEqual(1);
      }
    } finally {
      rmSync(configFile, { force: true });
    }
  }, 180_000);
});
