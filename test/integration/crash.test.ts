import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../lib/config';
import { LocalEngine } from '../../local/engine';
import { type FakeProvider, startFakeProvider } from '../../testing/fake-providers';
import { type Loopback, startLoopback } from '../../testing/loopback';
import { spawnEntry } from '../helpers/cli';
import { templateFor } from '../helpers/engine';

const root = join(__dirname, '..', '..');
const CHARGES = 5;

function child(args: string[]): { proc: ChildProcess; output: Promise<string> } {
  const proc = spawnEntry('test/helpers/engine-child.ts', args, {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stdout?.on('data', (c: Buffer) => {
    out += c.toString();
  });
  proc.stderr?.on('data', (c: Buffer) => {
    err += c.toString();
  });
  const output = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`child timed out: ${err}`));
    }, 60_000);
    proc.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0 || signal === 'SIGKILL') resolve(out);
      else reject(new Error(`child exited ${code}: ${err}`));
    });
  });
  return { proc, output };
}

describe('crash resume of the on-disk engine (npm start)', () => {
  let model: FakeProvider;
  let tools: Loopback;
  const requestsPerKey = new Map<string, number>();
  const dataDirs: string[] = [];

  beforeAll(async () => {
    model = await startFakeProvider('openai');
    // A deterministic model: one charge per step until five are done, then the answer.
    model.respondWith((body) => {
      const done = (body.messages as { role: string }[]).filter((m) => m.role === 'tool').length;
      return done < CHARGES ? { kind: 'tools', calls: [{ name: 'charge', args: { amount: done + 1 } }] } : { kind: 'text', text: 'five charges done' };
    });
    tools = await startLoopback();
    tools.on('/charge', (req, res) => {
      const key = String(req.headers['idempotency-key']);
      requestsPerKey.set(key, (requestsPerKey.get(key) ?? 0) + 1);
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"ok":true}');
      }, 250);
    });
  });
  afterAll(async () => {
    await model.close();
    await tools.close();
    for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
  });

  // Both engine shapes (docs/hybrid.md): in the hybrid one the kill lands in an Express segment of two steps.
  it.each(['standard', 'hybrid'] as const)(
    'engine %s: kill -9 mid-run, start again: the run finishes with every message once and every finished tool call run once',
    async (shape) => {
      requestsPerKey.clear();
      const dataDir = mkdtempSync(join(tmpdir(), `agent-crash-${shape}-`));
      dataDirs.push(dataDir);
      const config = {
        models: { primary: { provider: 'openai', model: 'm', contextWindowTokens: 128_000, baseUrl: model.baseUrl, timeoutMs: 2000 } },
        tools: [{ name: 'charge', kind: 'http', url: tools.url('/charge'), timeoutMs: 2000 }],
        ...(shape === 'hybrid' ? { engine: 'hybrid', hybrid: { segmentSteps: 2 } } : {}),
      };
      templateFor(parseConfig(config)); // synthesize once, outside the children's time
      const first = child([dataDir, JSON.stringify(config), 'start', 'crash-run']);
      const deadline = Date.now() + 30_000;
      while (requestsPerKey.size < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(requestsPerKey.size).toBeGreaterThanOrEqual(2);
      first.proc.kill('SIGKILL');
      await first.output;
      const before = new Map(requestsPerKey);

      const second = child([dataDir, JSON.stringify(config), 'resume']);
      const lines = (await second.output).trim().split('\n');
      const run = JSON.parse(lines.at(-1) ?? '{}');
      expect(run).toMatchObject({ runId: 'crash-run', status: 'SUCCEEDED', answer: 'five charges done', step: CHARGES + 1 });
      // Every charge has its own key; the calls that had finished before the kill were not sent again; at most the
      // one call in flight at the kill was sent twice, with the same Idempotency-Key (the downstream dedupes it).
      expect(requestsPerKey.size).toBe(CHARGES);
      const resent = [...requestsPerKey.entries()].filter(([k, n]) => n > (before.get(k) ?? 0) && (before.get(k) ?? 0) > 0);
      expect(resent.length).toBeLessThanOrEqual(1);
      expect(Math.max(...requestsPerKey.values())).toBeLessThanOrEqual(2);

      // The conversation, read from the same data: every message exactly once, in order.
      const engine = await LocalEngine.start({ config: parseConfig(config), dataDir });
      try {
        const messages = await engine.runtime.runs.listMessages('crash-run');
        expect(messages.map((m) => m.message.role)).toEqual(['user', ...Array(CHARGES).fill(['assistant', 'tool']).flat(), 'assistant']);
        expect(new Set(messages.map((m) => `${m.step}#${m.seq}`)).size).toBe(messages.length);
        const trace = await engine.runtime.runs.listEvents('crash-run');
        expect(trace.map((e) => e.type)).toEqual(expect.arrayContaining(['run_started', 'engine_restarted', 'run_resumed', 'run_finished']));
        expect(trace.filter((e) => e.type === 'tool_call' && !e.error)).toHaveLength(CHARGES);
      } finally {
        await engine.close();
      }
    },
    90_000,
  );
});
