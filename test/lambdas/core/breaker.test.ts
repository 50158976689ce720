import {
  admitted,
  type BreakerState,
  type BreakerStore,
  type BreakerTransition,
  bucketCount,
  bucketExpiresAt,
  bucketMillis,
  bucketStartOf,
  CircuitBreaker,
  closed,
  decide,
  INITIAL_BREAKER_STATE,
  isSuspect,
  leased,
  probeLeaseSeconds,
  released,
  reopened,
  resolveBreakerConfig,
  shouldOpen,
  sumWindow,
  suspected,
  tripped,
  windowRange,
} from '../../../lambdas/core/breaker';
import { BadRequest, CircuitOpen, ModelRefusal, QuotaExhausted, TimeoutError, TransientError } from '../../../lambdas/core/errors';
import { InMemoryBreakerStore } from '../../../lambdas/store/breaker-store';
import type { BreakerConfig } from '../../../lib/config';
import { deferred } from '../../helpers/async';

/** A multiple of every bucket size used here, so bucket boundaries are easy to reason about. */
const T0 = 1_700_000_040_000;

const base: BreakerConfig = { failureThreshold: 3, windowSeconds: 60, minimumCalls: 3, cooldownSeconds: 30, enabled: true };

function clock(start = T0) {
  let t = start;
  return {
    now: () => t,
    advance: (ms: number) => {
      t += ms;
    },
    set: (at: number) => {
      t = at;
    },
  };
}

function setup(config: Partial<BreakerConfig> = {}, store: BreakerStore = new InMemoryBreakerStore()) {
  const c = clock();
  const transitions: BreakerTransition[] = [];
  const breaker = new CircuitBreaker({
    store,
    config: { ...base, ...config },
    now: c.now,
    onTransition: (t) => {
      transitions.push(t);
    },
  });
  return { breaker, store, clock: c, transitions };
}

const ok = () => Promise.resolve('ok');
const fail =
  (err: Error = new TransientError('503 from upstream')) =>
  () =>
    Promise.reject(err);

/** Runs `fn` through the breaker and returns what it threw (or undefined). */
async function outcome(breaker: CircuitBreaker, dep: string, fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await breaker.call(dep, fn);
    return undefined;
  } catch (err) {
    return err;
  }
}

/**
 * n sequential failures. Each also writes the state (the first makes the breaker suspect; each later one takes the
 * admission lease and gives it back, or trips), so the versions pinned below count those writes too.
 */
async function failTimes(breaker: CircuitBreaker, dep: string, n: number, err?: Error) {
  for (let i = 0; i < n; i++) await outcome(breaker, dep, fail(err));
}

/** n concurrent calls; the invoked fns wait until every call has either entered fn or been refused. */
async function stampede(breaker: CircuitBreaker, dep: string, n: number) {
  let invoked = 0;
  let refused = 0;
  const otherErrors: unknown[] = [];
  const gate = deferred<void>();
  const check = () => {
    if (invoked + refused + otherErrors.length === n) gate.resolve();
  };
  const calls = Array.from({ length: n }, () =>
    breaker
      .call(dep, async () => {
        invoked++;
        check();
        await gate.promise;
        return 'probe ok';
      })
      .catch((err: unknown) => {
        if (err instanceof CircuitOpen) refused++;
        else otherErrors.push(err);
        check();
        return 'refused';
      }),
  );
  const results = await Promise.all(calls);
  return { invoked, refused, otherErrors, results };
}

describe('breaker arithmetic', () => {
  it('sizes buckets as max(1, windowSeconds/6) seconds and covers the window with them', () => {
    expect(bucketMillis({ windowSeconds: 60 })).toBe(10_000);
    expect(bucketCount({ windowSeconds: 60 })).toBe(6);
    expect(bucketMillis({ windowSeconds: 5 })).toBe(1000);
    expect(bucketCount({ windowSeconds: 5 })).toBe(5);
    expect(bucketMillis({ windowSeconds: 13 })).toBe(2000);
    expect(bucketCount({ windowSeconds: 13 })).toBe(7);
    expect(bucketMillis({ windowSeconds: 3600 })).toBe(600_000);
    expect(bucketStartOf(T0 + 9_999, { windowSeconds: 60 })).toBe(T0);
    expect(bucketStartOf(T0 + 10_000, { windowSeconds: 60 })).toBe(T0 + 10_000);
  });

  it('takes the current bucket and the five before it for a 60 s window', () => {
    expect(windowRange(T0 + 55_000, base)).toEqual({ from: T0, to: T0 + 50_000 });
    expect(windowRange(T0 + 60_000, base)).toEqual({ from: T0 + 10_000, to: T0 + 60_000 });
  });

  it('fences off the buckets from before the last trip', () => {
    expect(windowRange(T0 + 55_000, base, T0 + 12_000)).toEqual({ from: T0 + 20_000, to: T0 + 50_000 });
    expect(windowRange(T0 + 55_000, base, T0 + 20_000)).toEqual({ from: T0 + 30_000, to: T0 + 50_000 });
    // a trip long ago does not widen the window
    expect(windowRange(T0 + 55_000, base, T0 - 600_000)).toEqual({ from: T0, to: T0 + 50_000 });
  });

  it('expires a bucket once no window can contain it', () => {
    const exp = bucketExpiresAt(T0, base);
    expect(exp).toBe((T0 + 70_000) / 1000);
    // the last window that holds bucket T0 is the one at T0 + 59.999 s: still before expiry
    expect(windowRange(T0 + 59_999, base).from).toBe(T0);
    expect(exp * 1000).toBeGreaterThan(T0 + 59_999);
  });

  it('sums only the in-range, unexpired buckets', () => {
    const range = { from: T0, to: T0 + 50_000 };
    const buckets = [
      { bucketStart: T0 - 10_000, calls: 100, failures: 100, expiresAt: 9e12 }, // before the window
      { bucketStart: T0, calls: 2, failures: 1, expiresAt: 9e12 },
      { bucketStart: T0 + 20_000, calls: 3, failures: 2, expiresAt: 9e12 },
      { bucketStart: T0 + 30_000, calls: 50, failures: 50, expiresAt: (T0 + 40_000) / 1000 }, // expired at now
      { bucketStart: T0 + 60_000, calls: 100, failures: 100, expiresAt: 9e12 }, // after the window
    ];
    expect(sumWindow(buckets, range, T0 + 40_000)).toEqual({ calls: 5, failures: 3 });
    expect(sumWindow(buckets, range, T0 + 39_999)).toEqual({ calls: 55, failures: 53 });
  });

  it('opens only when both the failure threshold and the minimum calls are reached', () => {
    const cfg = { failureThreshold: 3, minimumCalls: 5 };
    expect(shouldOpen({ calls: 4, failures: 4 }, cfg)).toBe(false);
    expect(shouldOpen({ calls: 5, failures: 2 }, cfg)).toBe(false);
    expect(shouldOpen({ calls: 5, failures: 3 }, cfg)).toBe(true);
    expect(shouldOpen({ calls: 9, failures: 9 }, cfg)).toBe(true);
  });

  it('leases probes for probeLeaseSeconds, else max(cooldown, 30 s)', () => {
    expect(probeLeaseSeconds({ ...base, cooldownSeconds: 10 })).toBe(30);
    expect(probeLeaseSeconds({ ...base, cooldownSeconds: 90 })).toBe(90);
    expect(probeLeaseSeconds({ ...base, probeLeaseSeconds: 5 })).toBe(5);
  });

  it('merges per-dependency overrides, ignoring undefined keys', () => {
    expect(resolveBreakerConfig(base, { failureThreshold: 1, cooldownSeconds: undefined })).toEqual({ ...base, failureThreshold: 1 });
    expect(resolveBreakerConfig(base)).toEqual(base);
  });
});

describe('decide', () => {
  const open: BreakerState = { state: 'OPEN', openedAt: T0, probeLeaseUntil: null, version: 1 };
  const halfOpen: BreakerState = { state: 'HALF_OPEN', openedAt: T0, probeLeaseUntil: T0 + 60_000, version: 2 };

  it('allows every call when CLOSED', () => {
    expect(decide(INITIAL_BREAKER_STATE, T0, base)).toEqual({ action: 'allow' });
  });
  it('rejects while OPEN cools down, then lets callers try for the probe', () => {
    expect(decide(open, T0 + 29_999, base)).toEqual({ action: 'reject', until: T0 + 30_000, probing: false });
    expect(decide(open, T0 + 30_000, base)).toEqual({ action: 'probe-attempt', takeover: false });
  });
  it('rejects while a probe holds its lease, and lets the lease be taken over once it has expired', () => {
    expect(decide(halfOpen, T0 + 59_999, base)).toEqual({ action: 'reject', until: T0 + 60_000, probing: true });
    expect(decide(halfOpen, T0 + 60_000, base)).toEqual({ action: 'probe-attempt', takeover: true });
  });
  it('bumps the version on every transition', () => {
    const s1 = tripped(INITIAL_BREAKER_STATE, T0);
    expect(s1).toEqual({ state: 'OPEN', openedAt: T0, probeLeaseUntil: null, version: 1 });
    const s2 = leased(s1, T0 + 30_000, base);
    expect(s2).toEqual({ state: 'HALF_OPEN', openedAt: T0, probeLeaseUntil: T0 + 60_000, version: 2 });
    expect(closed(s2)).toEqual({ state: 'CLOSED', openedAt: T0, probeLeaseUntil: null, version: 3 });
    expect(reopened(s2, T0 + 31_000)).toEqual({ state: 'OPEN', openedAt: T0 + 31_000, probeLeaseUntil: null, version: 3 });
  });
});

describe('CircuitBreaker (in-memory store)', () => {
  it('trips at the threshold only once the minimum number of calls is reached', async () => {
    const { breaker, transitions } = setup({ failureThreshold: 3, minimumCalls: 5 });
    await failTimes(breaker, 'dep', 3);
    expect((await breaker.getState('dep')).state).toBe('CLOSED');
    expect(await breaker.call('dep', ok)).toBe('ok'); // call 4, a success: never trips
    expect((await breaker.getState('dep')).state).toBe('CLOSED');
    await failTimes(breaker, 'dep', 1); // call 5, failure 4
    const s = await breaker.getState('dep');
    expect(s.state).toBe('OPEN');
    expect(s.window).toEqual({ calls: 0, failures: 0 }); // fenced off by openedAt
    expect(transitions).toHaveLength(1);
    expect(transitions[0]).toMatchObject({ dependency: 'dep', from: 'CLOSED', to: 'OPEN', at: T0, version: 9, window: { calls: 5, failures: 4 } });
  });

  it('trips exactly at the threshold when the minimum is already met', async () => {
    const { breaker } = setup({ failureThreshold: 3, minimumCalls: 1 });
    await failTimes(breaker, 'dep', 2);
    expect((await breaker.getState('dep')).state).toBe('CLOSED');
    await failTimes(breaker, 'dep', 1);
    expect((await breaker.getState('dep')).state).toBe('OPEN');
  });

  it('does not count buckets that slid out of the window', async () => {
    const { breaker, clock: c } = setup({ failureThreshold: 3, minimumCalls: 3, windowSeconds: 60 });
    await failTimes(breaker, 'dep', 2); // bucket T0
    c.set(T0 + 60_000); // window is now buckets T0+10s .. T0+60s
    await failTimes(breaker, 'dep', 1);
    const s = await breaker.getState('dep');
    expect(s.state).toBe('CLOSED');
    expect(s.window).toEqual({ calls: 1, failures: 1 });
  });

  it('counts buckets still inside the window (the boundary the previous test crosses)', async () => {
    const { breaker, clock: c } = setup({ failureThreshold: 3, minimumCalls: 3, windowSeconds: 60 });
    await failTimes(breaker, 'dep', 2);
    c.set(T0 + 59_999);
    await failTimes(breaker, 'dep', 1);
    expect((await breaker.getState('dep')).state).toBe('OPEN');
  });

  it('refuses with CircuitOpen without calling fn while OPEN', async () => {
    const { breaker, clock: c } = setup();
    await failTimes(breaker, 'dep', 3);
    const fn = jest.fn(ok);
    c.advance(29_999);
    const err = await outcome(breaker, 'dep', fn);
    expect(err).toBeInstanceOf(CircuitOpen);
    expect((err as Error).name).toBe('CircuitOpen');
    expect((err as Error).message).toMatch(/circuit open for dep: cooling down until/);
    expect(fn).not.toHaveBeenCalled();
  });

  it('lets exactly one of 50 concurrent callers probe after the cool-down', async () => {
    const { breaker, clock: c, transitions } = setup();
    await failTimes(breaker, 'dep', 3);
    c.advance(30_000);
    const r = await stampede(breaker, 'dep', 50);
    expect(r.otherErrors).toEqual([]);
    expect(r.invoked).toBe(1);
    expect(r.refused).toBe(49);
    expect(r.results.filter((x) => x === 'probe ok')).toHaveLength(1);
    expect(transitions.map((t) => `${t.from}>${t.to}`)).toEqual(['CLOSED>OPEN', 'OPEN>HALF_OPEN', 'HALF_OPEN>CLOSED']);
  });

  it('closes on probe success, and pre-trip failures cannot re-trip it', async () => {
    const { breaker, clock: c, transitions } = setup();
    await failTimes(breaker, 'dep', 3);
    c.advance(30_000);
    expect(await breaker.call('dep', ok)).toBe('ok');
    const s = await breaker.getState('dep');
    expect(s).toMatchObject({ state: 'CLOSED', openedAt: T0, probeLeaseUntil: null, version: 7, retryAt: null });
    // the three failures at T0 are still within 60 s, but behind the fence
    await failTimes(breaker, 'dep', 1);
    expect((await breaker.getState('dep')).state).toBe('CLOSED');
    expect(transitions.map((t) => t.to)).toEqual(['OPEN', 'HALF_OPEN', 'CLOSED']);
    expect(transitions[1]).toMatchObject({ from: 'OPEN', to: 'HALF_OPEN', at: T0 + 30_000, reason: 'cool-down elapsed; probing' });
    expect(transitions[2]).toMatchObject({ from: 'HALF_OPEN', to: 'CLOSED', reason: 'probe succeeded', version: 7 });
  });

  it('reopens with a new openedAt when the probe fails', async () => {
    const { breaker, clock: c, transitions } = setup();
    await failTimes(breaker, 'dep', 3);
    c.advance(30_000);
    const probeErr = new TimeoutError('timed out');
    c.advance(500);
    expect(await outcome(breaker, 'dep', fail(probeErr))).toBe(probeErr);
    const s = await breaker.getState('dep');
    expect(s).toMatchObject({ state: 'OPEN', openedAt: T0 + 30_500, probeLeaseUntil: null, version: 7, retryAt: T0 + 60_500 });
    expect(transitions[2]).toMatchObject({ from: 'HALF_OPEN', to: 'OPEN', at: T0 + 30_500, reason: 'probe failed: TimeoutError' });
    // the new cool-down runs from the new openedAt
    const fn = jest.fn(ok);
    c.set(T0 + 60_499);
    expect(await outcome(breaker, 'dep', fn)).toBeInstanceOf(CircuitOpen);
    expect(fn).not.toHaveBeenCalled();
    c.set(T0 + 60_500);
    expect(await breaker.call('dep', fn)).toBe('ok');
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it('supersedes a probe that never reports back once its lease expires, and ignores its late report', async () => {
    const { breaker, clock: c, transitions } = setup({ probeLeaseSeconds: 45 });
    await failTimes(breaker, 'dep', 3);
    c.advance(30_000);
    const stuck = deferred<string>();
    const stuckCall = breaker.call('dep', () => stuck.promise);
    await flush();
    expect((await breaker.getState('dep')).state).toBe('HALF_OPEN');

    c.advance(44_999); // lease still held
    const early = jest.fn(ok);
    expect(await outcome(breaker, 'dep', early)).toBeInstanceOf(CircuitOpen);
    expect(early).not.toHaveBeenCalled();

    c.advance(1); // lease expired: the next caller takes it over and probes
    const second = jest.fn(() => Promise.resolve('second probe'));
    expect(await breaker.call('dep', second)).toBe('second probe');
    expect(second).toHaveBeenCalledTimes(1);
    const afterClose = await breaker.getState('dep');
    expect(afterClose).toMatchObject({ state: 'CLOSED', version: 8 });

    // the stuck probe finally fails: its caller sees its error, the breaker ignores it
    const late = new TransientError('late 503');
    stuck.reject(late);
    await expect(stuckCall).rejects.toBe(late);
    expect(await breaker.getState('dep')).toMatchObject({ state: 'CLOSED', version: 8 });
    expect(transitions.map((t) => `${t.from}>${t.to}`)).toEqual(['CLOSED>OPEN', 'OPEN>HALF_OPEN', 'HALF_OPEN>HALF_OPEN', 'HALF_OPEN>CLOSED']);
    expect(transitions[2]?.reason).toMatch(/lease expired/);
  });

  it('a superseded probe that succeeds late does not close a breaker its successor reopened', async () => {
    const { breaker, clock: c } = setup();
    await failTimes(breaker, 'dep', 3);
    c.advance(30_000);
    const stuck = deferred<string>();
    const stuckCall = breaker.call('dep', () => stuck.promise);
    await flush();
    c.advance(30_000); // default lease: max(30, 30) s
    await outcome(breaker, 'dep', fail());
    const reopenedState = await breaker.getState('dep');
    expect(reopenedState).toMatchObject({ state: 'OPEN', openedAt: T0 + 60_000, version: 8 });
    stuck.resolve('late ok');
    await expect(stuckCall).resolves.toBe('late ok');
    expect(await breaker.getState('dep')).toMatchObject({ state: 'OPEN', openedAt: T0 + 60_000, version: 8 });
  });

  it('counts BadRequest and ModelRefusal as calls, not failures, and rethrows them unchanged', async () => {
    const { breaker, transitions } = setup({ failureThreshold: 1, minimumCalls: 1 });
    const bad = new BadRequest('400: bad field', { status: 400 });
    const refusal = new ModelRefusal('content_filter');
    expect(await outcome(breaker, 'dep', fail(bad))).toBe(bad);
    expect(await outcome(breaker, 'dep', fail(refusal))).toBe(refusal);
    let s = await breaker.getState('dep');
    expect(s.state).toBe('CLOSED');
    expect(s.window).toEqual({ calls: 2, failures: 0 });
    expect(transitions).toEqual([]);
    // the same breaker does trip on a failure that counts
    const quota = new QuotaExhausted('insufficient_quota');
    expect(await outcome(breaker, 'dep', fail(quota))).toBe(quota);
    s = await breaker.getState('dep');
    expect(s.state).toBe('OPEN');
  });

  it('treats an unclassified error as the dependency failing', async () => {
    const { breaker } = setup({ failureThreshold: 1, minimumCalls: 1 });
    const boom = new Error('socket hang up');
    expect(await outcome(breaker, 'dep', fail(boom))).toBe(boom);
    expect((await breaker.getState('dep')).state).toBe('OPEN');
  });

  it('closes when the probe gets a BadRequest (the dependency answered) and rethrows it', async () => {
    const { breaker, clock: c, transitions } = setup();
    await failTimes(breaker, 'dep', 3);
    c.advance(30_000);
    const bad = new BadRequest('422');
    expect(await outcome(breaker, 'dep', fail(bad))).toBe(bad);
    expect((await breaker.getState('dep')).state).toBe('CLOSED');
    expect(transitions[2]).toMatchObject({ to: 'CLOSED', reason: 'probe reached the dependency (BadRequest)' });
  });

  it('lets only one of many concurrent failing callers trip the breaker', async () => {
    const { breaker, transitions } = setup({ failureThreshold: 3, minimumCalls: 3 });
    await Promise.all(Array.from({ length: 20 }, () => outcome(breaker, 'dep', fail())));
    expect((await breaker.getState('dep')).state).toBe('OPEN');
    expect(transitions).toHaveLength(1);
    expect(transitions[0]).toMatchObject({ from: 'CLOSED', to: 'OPEN', version: 2 });
  });

  it('keeps dependencies apart and applies per-dependency overrides', async () => {
    const c = clock();
    const breaker = new CircuitBreaker({
      store: new InMemoryBreakerStore(),
      config: { ...base, failureThreshold: 5, minimumCalls: 5 },
      overrides: { 'model:primary': { failureThreshold: 1, minimumCalls: 1 } },
      now: c.now,
    });
    await outcome(breaker, 'model:primary', fail());
    await outcome(breaker, 'tool:charge', fail());
    expect((await breaker.getState('model:primary')).state).toBe('OPEN');
    expect((await breaker.getState('tool:charge')).state).toBe('CLOSED');
    expect(await breaker.call('tool:charge', ok)).toBe('ok');
    expect(breaker.configFor('model:primary').failureThreshold).toBe(1);
  });

  it('passes straight through when disabled, without touching the store', async () => {
    const store: BreakerStore = {
      getState: jest.fn(() => Promise.reject(new Error('must not be called'))),
      compareAndSet: jest.fn(() => Promise.reject(new Error('must not be called'))),
      recordOutcome: jest.fn(() => Promise.reject(new Error('must not be called'))),
      readWindow: jest.fn(() => Promise.reject(new Error('must not be called'))),
    };
    const breaker = new CircuitBreaker({ store, config: { ...base, enabled: false } });
    expect(await breaker.call('dep', ok)).toBe('ok');
    const err = new TransientError('x');
    expect(await outcome(breaker, 'dep', fail(err))).toBe(err);
    expect(store.getState).not.toHaveBeenCalled();
    expect(store.recordOutcome).not.toHaveBeenCalled();
  });

  it('fails open when the store is down, and reports it', async () => {
    const reported: string[] = [];
    const down = new Error('DynamoDB unreachable');
    const store: BreakerStore = {
      getState: () => Promise.reject(down),
      compareAndSet: () => Promise.reject(down),
      recordOutcome: () => Promise.reject(down),
      readWindow: () => Promise.reject(down),
    };
    const breaker = new CircuitBreaker({ store, config: base, onStoreError: (_err, info) => reported.push(info.operation) });
    const fn = jest.fn(ok);
    expect(await breaker.call('dep', fn)).toBe('ok');
    expect(fn).toHaveBeenCalledTimes(1);
    expect(reported).toEqual(['getState']);
  });

  it('refuses a probe it could not lease because the store failed', async () => {
    const inner = new InMemoryBreakerStore();
    const c = clock();
    await inner.compareAndSet('dep', INITIAL_BREAKER_STATE, tripped(INITIAL_BREAKER_STATE, T0));
    const store: BreakerStore = {
      getState: (d) => inner.getState(d),
      compareAndSet: () => Promise.reject(new Error('throttled')),
      recordOutcome: (d, b, f) => inner.recordOutcome(d, b, f),
      readWindow: (d, r, n) => inner.readWindow(d, r, n),
    };
    const reported: string[] = [];
    const breaker = new CircuitBreaker({ store, config: base, now: c.now, onStoreError: (_e, i) => reported.push(i.operation) });
    c.advance(30_000);
    const fn = jest.fn(ok);
    expect(await outcome(breaker, 'dep', fn)).toBeInstanceOf(CircuitOpen);
    expect(fn).not.toHaveBeenCalled();
    expect(reported).toEqual(['takeProbeLease']);
  });

  it('never lets a failing onTransition observer fail the call', async () => {
    const breaker = new CircuitBreaker({
      store: new InMemoryBreakerStore(),
      config: { ...base, failureThreshold: 1, minimumCalls: 1 },
      onTransition: () => {
        throw new Error('logger down');
      },
    });
    const err = new TransientError('503');
    expect(await outcome(breaker, 'dep', fail(err))).toBe(err);
    const asyncBreaker = new CircuitBreaker({
      store: new InMemoryBreakerStore(),
      config: { ...base, failureThreshold: 1, minimumCalls: 1 },
      onTransition: () => Promise.reject(new Error('trace write failed')),
    });
    expect(await outcome(asyncBreaker, 'dep', fail(err))).toBe(err);
    expect((await asyncBreaker.getState('dep')).state).toBe('OPEN');
  });

  it('exposes guard as a standalone function (the tools’ Guard)', async () => {
    const { breaker } = setup();
    const { guard } = breaker;
    expect(await guard('tool:x', () => Promise.resolve(42))).toBe(42);
    expect((await breaker.getState('tool:x')).window).toEqual({ calls: 1, failures: 0 });
  });
});

/** Lets pending promise callbacks run (the in-memory store resolves in microtasks). */
async function flush() {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

describe('the first wave: a suspect breaker admits one call at a time', () => {
  const suspect = suspected(INITIAL_BREAKER_STATE, T0);

  it('decides: allow when not suspect, admit one caller when suspect, refuse while the admitted call holds its lease', () => {
    expect(suspect).toEqual({ state: 'CLOSED', openedAt: null, probeLeaseUntil: null, suspectSince: T0, version: 1 });
    expect(decide(suspect, T0 + 1, base)).toEqual({ action: 'admit-attempt' });
    const lease = admitted(suspect, T0 + 1, base);
    expect(lease).toMatchObject({ state: 'CLOSED', suspectSince: T0, probeLeaseUntil: T0 + 30_001, version: 2 });
    expect(decide(lease, T0 + 2, base)).toEqual({ action: 'reject', until: T0 + 30_001, probing: true });
    expect(decide(lease, T0 + 30_001, base)).toEqual({ action: 'admit-attempt' }); // a lost admitted call is superseded
    expect(released(lease)).toMatchObject({ suspectSince: T0, probeLeaseUntil: null, version: 3 });
    // suspicion lasts one window, and every transition between states clears it
    expect(isSuspect(suspect, T0 + 59_999, base)).toBe(true);
    expect(decide(suspect, T0 + 60_000, base)).toEqual({ action: 'allow' });
    expect(closed(lease).suspectSince).toBeUndefined();
    expect(tripped(lease, T0).suspectSince).toBeUndefined();
  });

  it('after the first counted failure, 50 concurrent callers send one request; the others get CircuitOpen', async () => {
    const { breaker, transitions } = setup({ failureThreshold: 5, minimumCalls: 5 });
    await failTimes(breaker, 'dep', 1);
    expect((await breaker.getState('dep')).state).toBe('CLOSED'); // the trip rule is unchanged: 1 failure < 5
    const r = await stampede(breaker, 'dep', 50);
    expect(r.otherErrors).toEqual([]);
    expect(r.invoked).toBe(1);
    expect(r.refused).toBe(49);
    expect(transitions).toEqual([]); // suspicion is not a transition: the breaker stays CLOSED
  });

  it('a success of the admitted call clears the suspicion (a blip does not throttle the dependency)', async () => {
    const { breaker } = setup({ failureThreshold: 5, minimumCalls: 5 });
    await failTimes(breaker, 'dep', 1);
    expect(await breaker.call('dep', ok)).toBe('ok');
    const r = await stampede(breaker, 'dep', 20);
    expect(r.invoked).toBe(20);
    expect((await breaker.getState('dep')).suspectSince).toBeUndefined();
  });

  it('an admitted call that fails without tripping gives its lease back; the trip rule still needs its threshold', async () => {
    const { breaker, transitions } = setup({ failureThreshold: 5, minimumCalls: 5 });
    for (let i = 1; i <= 4; i++) {
      await failTimes(breaker, 'dep', 1);
      expect(await breaker.getState('dep')).toMatchObject({ state: 'CLOSED', probeLeaseUntil: null, suspectSince: T0, window: { calls: i, failures: i } });
    }
    await failTimes(breaker, 'dep', 1);
    expect((await breaker.getState('dep')).state).toBe('OPEN');
    expect(transitions.map((t) => `${t.from}>${t.to}`)).toEqual(['CLOSED>OPEN']);
  });

  it('suspicion ends with the window: later calls go through together again', async () => {
    const { breaker, clock: c } = setup({ failureThreshold: 5, minimumCalls: 5 });
    await failTimes(breaker, 'dep', 1);
    c.advance(60_000);
    const r = await stampede(breaker, 'dep', 10);
    expect(r.invoked).toBe(10);
  });

  it('a 4xx answer to the admitted call clears the suspicion too (the dependency answered)', async () => {
    const { breaker } = setup({ failureThreshold: 5, minimumCalls: 5 });
    await failTimes(breaker, 'dep', 1);
    await outcome(breaker, 'dep', fail(new BadRequest('400')));
    expect((await breaker.getState('dep')).suspectSince).toBeUndefined();
  });
});
