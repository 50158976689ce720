import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../lib/config';
import { spawnEntry } from '../helpers/cli';
import { templateFor } from '../helpers/engine';

const TOKEN = 'dev-idempotency-crash-0123456789';
const KEYS = 120;
// The stage's throttle raised: this test's bursts of keyed POSTs are not what it is about (the throttle has its own).
const CONFIG = { budgets: { maxSteps: 5 }, api: { throttle: { rateLimit: 1000, burstLimit: 2000 } } };

/** `npm start` on a data dir, in a child process (test/helpers/engine-child.ts serve); resolves once it listens. */
function serve(dataDir: string): Promise<{ proc: ChildProcess; url: string; exited: Promise<void> }> {
  const proc = spawnEntry('test/helpers/engine-child.ts', [dataDir, JSON.stringify(CONFIG), 'serve', TOKEN], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  let err = '';
  proc.stderr?.on('data', (c: Buffer) => {
    err += c.toString();
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`the server did not start: ${err}`));
    }, 30_000);
    let out = '';
    proc.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      const url = /listening (\S+)/.exec(out)?.[1];
      if (url) {
        clearTimeout(timer);
        resolve({ proc, url, exited });
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the server exited ${code}: ${err}`));
    });
  });
}

const post = (url: string, key: string) =>
  fetch(`${url}/runs`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', 'idempotency-key': key },
    body: JSON.stringify({ input: `What is ${key.length} + 1?` }),
  });

/** Issue 31 item 1: no crash leaves an Idempotency-Key pointing at a run that does not exist. */
describe('Idempotency-Key across a kill -9 of the server', () => {
  let dataDir: string;
  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'agent-idem-crash-'));
    templateFor(parseConfig(CONFIG)); // synthesized once, outside the children's time
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it(`kill -9 during ${KEYS} keyed POSTs, start again: every key starts or returns a run that exists`, async () => {
    const keys = Array.from({ length: KEYS }, (_, i) => `crash-key-${i}`);
    const first = await serve(dataDir);
    // Keyed POSTs, 16 at a time; the server is killed once a sixth of them have answered, with 15 in flight (the
    // runs the restart then resumes are what this test spends its time on: the kill lands mid-flight either way).
    let answered = 0;
    let next = 0;
    let killed = false;
    const worker = async () => {
      while (next < keys.length && !killed) {
        const key = keys[next++] as string;
        try {
          await post(first.url, key);
          if (++answered === KEYS / 6) {
            killed = true;
            first.proc.kill('SIGKILL');
          }
        } catch {
          // The server died under this request.
        }
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    await first.exited;
    // The keys sent before the kill (answered or in flight); the others were never sent.
    const sent = keys.slice(0, next);
    expect(sent.length).toBeGreaterThan(answered);

    const second = await serve(dataDir);
    try {
      // Every key sent before the kill again, 12 at a time: each answers with a run that exists.
      const lost: unknown[] = [];
      let at = 0;
      const check = async () => {
        while (at < sent.length) {
          const key = sent[at++] as string;
          const res = await post(second.url, key);
          const { runId } = (await res.json()) as { runId?: string };
          const run = runId ? (await fetch(`${second.url}/runs/${runId}`, { headers: { authorization: `Bearer ${TOKEN}` } })).status : 'no runId';
          if (![200, 202].includes(res.status) || run !== 200) lost.push({ key, post: res.status, runId, run });
        }
      };
      await Promise.all(Array.from({ length: 12 }, check));
      expect(lost).toEqual([]);
    } finally {
      second.proc.kill('SIGTERM');
      await second.exited;
    }
  }, 90_000);
});
