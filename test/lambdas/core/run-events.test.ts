import type { RunRecord } from '../../../lambdas/core/ports';
import { KEEP_ALIVE_FRAME, streamRunEvents, type TraceCursor, type TraceItem } from '../../../lambdas/core/run-events';
import type { TraceEvent } from '../../../lambdas/core/types';

/** A run's trace on a fake clock: items appear when the test writes them; sleeping moves the clock. */
function fakeRun() {
  let clock = Date.parse('2026-01-01T00:00:00Z');
  const iso = (ms: number) => new Date(ms).toISOString();
  const items: TraceItem[] = [];
  const run = {
    runId: 'r',
    userId: 'u',
    status: 'RUNNING',
    step: 0,
    tokensIn: 0,
    tokensOut: 0,
    degraded: [],
    createdAt: iso(clock),
    updatedAt: iso(clock),
  } as unknown as RunRecord;
  const schedule: { at: number; act: () => void }[] = [];
  let seq = 0;
  const source = {
    getRun: async () => run,
    traceItemsAfter: async (_runId: string, after: TraceCursor) =>
      items.filter((i) => (i.sk.startsWith('EVT#') ? !after.events || i.sk > after.events : !after.messages || i.sk > after.messages)),
  };
  return {
    source,
    now: () => clock,
    sleep: async (ms: number) => {
      clock += ms;
      for (const s of schedule.filter((x) => x.at <= clock)) {
        s.act();
        schedule.splice(schedule.indexOf(s), 1);
      }
    },
    /** Writes an event stamped `stampedAgoMs` before the moment it is written (as a slow writer would). */
    write(type: string, kind: 'EVT' | 'MSG', stampedAgoMs = 0) {
      const at = iso(clock - stampedAgoMs);
      const sk = kind === 'EVT' ? `EVT#${at}#${String(++seq).padStart(6, '0')}` : `MSG#${String(++seq).padStart(5, '0')}#000`;
      items.push({ sk, event: { type, at, step: 1 } as unknown as TraceEvent });
    },
    at(ms: number, act: () => void) {
      schedule.push({ at: clock + ms, act });
    },
    finish() {
      run.status = 'SUCCEEDED';
      run.updatedAt = iso(clock);
    },
  };
}

const ids = (out: string[]) => out.flatMap((c) => /^id: (.*)$/m.exec(c)?.[1] ?? []);
const kinds = (out: string[]) => out.flatMap((c) => /^event: (.*)$/m.exec(c)?.[1] ?? []);

describe('the live event stream (fake clock)', () => {
  it('sends events in time order even when one is written after a later-stamped one, then end', async () => {
    const f = fakeRun();
    f.write('run_started', 'EVT');
    f.at(1000, () => f.write('tool_call', 'MSG'));
    // Stamped before tool_call but written 100 ms after it (a parallel call): it must still go first.
    f.at(1100, () => f.write('retry', 'EVT', 200));
    f.at(3000, () => {
      f.write('run_finished', 'EVT');
      f.finish();
    });
    const out: string[] = [];
    const result = await streamRunEvents(f.source, 'r', (c) => void out.push(c), { now: f.now, sleep: f.sleep, remainingMs: () => 600_000, settleMs: 500, pollMs: 100 });
    expect(result).toBe('end');
    expect(kinds(out)).toEqual(['run_started', 'retry', 'tool_call', 'run_finished', 'end']);
    expect(out[out.length - 1]).toMatch(/^event: end\ndata: \{"runId":"r","threadId":null,"status":"SUCCEEDED"/);
  });

  it('resumes after Last-Event-ID with none repeated and none missed', async () => {
    const f = fakeRun();
    for (const t of ['run_started', 'model_call', 'tool_call']) f.write(t, t === 'run_started' ? 'EVT' : 'MSG');
    f.write('run_finished', 'EVT');
    f.finish();
    await f.sleep(1000);
    const first: string[] = [];
    await streamRunEvents(f.source, 'r', (c) => void first.push(c), { now: f.now, sleep: f.sleep, remainingMs: () => 600_000 });
    const all = ids(first);
    for (let i = 0; i < all.length; i++) {
      const again: string[] = [];
      await streamRunEvents(f.source, 'r', (c) => void again.push(c), { now: f.now, sleep: f.sleep, remainingMs: () => 600_000, lastEventId: all[i] });
      expect(ids(again)).toEqual(all.slice(i + 1));
      expect(kinds(again).at(-1)).toBe('end');
    }
  });

  it('sends a keep-alive comment after 15 s without a write, and closes near the deadline without end', async () => {
    const f = fakeRun();
    const started = f.now();
    const out: string[] = [];
    const result = await streamRunEvents(f.source, 'r', (c) => void out.push(c), {
      now: f.now,
      sleep: f.sleep,
      remainingMs: () => 40_000 - (f.now() - started),
      minRemainingMs: 5000,
    });
    expect(result).toBe('deadline');
    expect(out).toEqual([KEEP_ALIVE_FRAME, KEEP_ALIVE_FRAME]);
    expect(f.now() - started).toBeLessThanOrEqual(35_000);
  });

  it('ends at once for a run that was erased', async () => {
    const f = fakeRun();
    const result = await streamRunEvents({ ...f.source, getRun: async () => undefined }, 'r', () => undefined, { now: f.now, sleep: f.sleep, remainingMs: () => 600_000 });
    expect(result).toBe('gone');
  });
});
