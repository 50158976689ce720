import type { ServerResponse } from 'node:http';
import { GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { type BreakerStore, type BreakerTransition, CircuitBreaker, INITIAL_BREAKER_STATE, leased, tripped } from '../../../lambdas/core/breaker';
import { BadRequest, CircuitOpen, TransientError } from '../../../lambdas/core/errors';
import { BREAKER_STATE_SK, breakerPk, breakerWindowSk, DynamoBreakerStore, InMemoryBreakerStore } from '../../../lambdas/store/breaker-store';
import type { BreakerConfig } from '../../../lib/config';
import { startLoopback } from '../../../testing/loopback';
import { deferred, until } from '../../helpers/async';
import { dynamoWithAgentTable } from '../../helpers/dynamo';

const T0 = 1_700_000_040_000;
const base: BreakerConfig = { failureThreshold: 3, windowSeconds: 60, minimumCalls: 5, cooldownSeconds: 30, enabled: true };

let dynamo: Awaited<ReturnType<typeof dynamoWithAgentTable>>;
beforeAll(async () => {
  dynamo = await dynamoWithAgentTable('BreakerTable');
});
afterAll(async () => {
  await dynamo?.close();
});

let depSeq = 0;
/** A fresh dependency name per test: every test gets its own breaker items in the shared table. */
const freshDep = (label: string) => `tool:${label}-${++depSeq}`;

describe.each([
  ['DynamoBreakerStore (dynalite)', () => new DynamoBreakerStore(dynamo.doc, dynamo.tableName) as BreakerStore],
  ['InMemoryBreakerStore', () => new InMemoryBreakerStore() as BreakerStore],
])('%s: the BreakerStore contract', (_name, makeStore) => {
  it('reads a never-written breaker as CLOSED, version 0', async () => {
    expect(await makeStore().getState(freshDep('none'))).toEqual(INITIAL_BREAKER_STATE);
  });

  it('creates the state once: a second create from version 0 loses', async () => {
    const store = makeStore();
    const dep = freshDep('create');
    const open = tripped(INITIAL_BREAKER_STATE, T0);
    expect(await store.compareAndSet(dep, INITIAL_BREAKER_STATE, open)).toBe(true);
    expect(await store.compareAndSet(dep, INITIAL_BREAKER_STATE, tripped(INITIAL_BREAKER_STATE, T0 + 1))).toBe(false);
    expect(await store.getState(dep)).toEqual({ state: 'OPEN', openedAt: T0, probeLeaseUntil: null, version: 1 });
  });

  it('writes only on the expected version and state', async () => {
    const store = makeStore();
    const dep = freshDep('cas');
    const open = tripped(INITIAL_BREAKER_STATE, T0);
    await store.compareAndSet(dep, INITIAL_BREAKER_STATE, open);
    const lease = leased(open, T0 + 30_000, base);
    expect(await store.compareAndSet(dep, { ...open, version: 7 }, lease)).toBe(false); // stale version
    expect(await store.compareAndSet(dep, { ...open, state: 'CLOSED' }, lease)).toBe(false); // wrong state
    expect(await store.compareAndSet(dep, open, lease)).toBe(true);
    expect(await store.compareAndSet(dep, open, lease)).toBe(false); // already moved on
    expect(await store.getState(dep)).toEqual({ state: 'HALF_OPEN', openedAt: T0, probeLeaseUntil: T0 + 60_000, version: 2 });
  });

  it('lets exactly one of 50 concurrent compare-and-sets win', async () => {
    const store = makeStore();
    const dep = freshDep('race');
    const open = tripped(INITIAL_BREAKER_STATE, T0);
    await store.compareAndSet(dep, INITIAL_BREAKER_STATE, open);
    const wins = await Promise.all(Array.from({ length: 50 }, (_, i) => store.compareAndSet(dep, open, leased(open, T0 + 30_000 + i, base))));
    expect(wins.filter(Boolean)).toHaveLength(1);
  });

  it('adds outcomes to buckets and sums the buckets in range that have not expired', async () => {
    const store = makeStore();
    const dep = freshDep('window');
    const far = (T0 + 3_600_000) / 1000;
    await Promise.all([
      store.recordOutcome(dep, { bucketStart: T0, expiresAt: far }, true),
      store.recordOutcome(dep, { bucketStart: T0, expiresAt: far }, false),
      store.recordOutcome(dep, { bucketStart: T0, expiresAt: far }, true),
      store.recordOutcome(dep, { bucketStart: T0 + 10_000, expiresAt: far }, false),
      store.recordOutcome(dep, { bucketStart: T0 - 10_000, expiresAt: far }, true), // before the range
      store.recordOutcome(dep, { bucketStart: T0 + 60_000, expiresAt: far }, true), // after the range
      store.recordOutcome(dep, { bucketStart: T0 + 20_000, expiresAt: (T0 + 25_000) / 1000 }, true), // expires at T0+25s
    ]);
    const range = { from: T0, to: T0 + 50_000 };
    expect(await store.readWindow(dep, range, T0 + 24_999)).toEqual({ calls: 5, failures: 3 });
    expect(await store.readWindow(dep, range, T0 + 25_000)).toEqual({ calls: 4, failures: 2 });
    expect(await store.readWindow(dep, { from: T0 + 10_000, to: T0 }, T0)).toEqual({ calls: 0, failures: 0 });
    expect(await store.readWindow(freshDep('empty'), range, T0)).toEqual({ calls: 0, failures: 0 });
  });
});

describe('DynamoBreakerStore item layout', () => {
  it('keeps state at BRK#<dependency>/STATE and buckets at BRK#<dependency>/WIN#<bucketStart>', async () => {
    const store = new DynamoBreakerStore(dynamo.doc, dynamo.tableName, { now: () => T0 + 5 });
    const dep = 'model:primary-layout';
    await store.compareAndSet(dep, INITIAL_BREAKER_STATE, tripped(INITIAL_BREAKER_STATE, T0));
    await store.recordOutcome(dep, { bucketStart: T0, expiresAt: 1_700_000_110 }, true);
    await store.recordOutcome(dep, { bucketStart: T0, expiresAt: 1_700_000_110 }, false);
    const state = await dynamo.doc.send(new GetCommand({ TableName: dynamo.tableName, Key: { pk: 'BRK#model:primary-layout', sk: 'STATE' } }));
    expect(state.Item).toEqual({
      pk: 'BRK#model:primary-layout',
      sk: 'STATE',
      state: 'OPEN',
      openedAt: T0,
      probeLeaseUntil: null,
      suspectSince: null,
      version: 1,
      updatedAt: T0 + 5,
    });
    const buckets = await dynamo.doc.send(
      new QueryCommand({
        TableName: dynamo.tableName,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :p)',
        ExpressionAttributeValues: { ':pk': breakerPk(dep), ':p': 'WIN#' },
      }),
    );
    expect(buckets.Items).toEqual([{ pk: breakerPk(dep), sk: `WIN#00${T0}`, bucketStart: T0, calls: 2, failures: 1, expiresAt: 1_700_000_110 }]);
    expect(breakerWindowSk(T0)).toBe(`WIN#00${T0}`);
    expect(BREAKER_STATE_SK).toBe('STATE');
  });

  it('reads a malformed state item as the initial state instead of crashing', async () => {
    const dep = 'tool:malformed';
    await dynamo.doc.send(new PutCommand({ TableName: dynamo.tableName, Item: { pk: breakerPk(dep), sk: 'STATE', state: 'WEIRD' } }));
    expect(await new DynamoBreakerStore(dynamo.doc, dynamo.tableName).getState(dep)).toEqual(INITIAL_BREAKER_STATE);
  });

  it('rethrows store failures other than a lost condition', async () => {
    const store = new DynamoBreakerStore(dynamo.doc, 'NoSuchTable');
    await expect(store.compareAndSet('dep', INITIAL_BREAKER_STATE, tripped(INITIAL_BREAKER_STATE, T0))).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
    });
  });
});

describe('CircuitBreaker on DynamoDB (dynalite)', () => {
  function setup(config: Partial<BreakerConfig> = {}) {
    let t = T0;
    const transitions: BreakerTransition[] = [];
    const storeErrors: unknown[] = [];
    const breaker = new CircuitBreaker({
      store: new DynamoBreakerStore(dynamo.doc, dynamo.tableName),
      config: { ...base, ...config },
      now: () => t,
      onTransition: (tr) => {
        transitions.push(tr);
      },
      onStoreError: (err) => storeErrors.push(err),
    });
    return {
      breaker,
      transitions,
      storeErrors,
      dep: freshDep('brk'),
      advance: (ms: number) => {
        t += ms;
      },
    };
  }

  async function outcome(breaker: CircuitBreaker, dep: string, fn: () => Promise<unknown>): Promise<unknown> {
    try {
      await breaker.call(dep, fn);
      return undefined;
    } catch (err) {
      return err;
    }
  }
  const fail =
    (err: Error = new TransientError('503')) =>
    () =>
      Promise.reject(err);
  const ok = () => Promise.resolve('ok');

  /**
   * Trips the breaker: 5 calls (the minimum), 3 of them failing (the threshold). Four state writes: suspect, the
   * admitted second failure's lease and its release, the third's lease; the trip is version 5.
   */
  async function trip(breaker: CircuitBreaker, dep: string) {
    await breaker.call(dep, ok);
    await breaker.call(dep, ok);
    await outcome(breaker, dep, fail());
    await outcome(breaker, dep, fail());
    expect((await breaker.getState(dep)).state).toBe('CLOSED'); // 4 calls, 2 failures
    await outcome(breaker, dep, fail());
    expect((await breaker.getState(dep)).state).toBe('OPEN');
  }

  it('trips at the threshold only after the minimum number of calls', async () => {
    const { breaker, dep, transitions, storeErrors } = setup({ failureThreshold: 3, minimumCalls: 5 });
    for (let i = 0; i < 3; i++) await outcome(breaker, dep, fail());
    expect(await breaker.getState(dep)).toMatchObject({ state: 'CLOSED', window: { calls: 3, failures: 3 } });
    await breaker.call(dep, ok);
    expect((await breaker.getState(dep)).state).toBe('CLOSED');
    await outcome(breaker, dep, fail());
    expect(await breaker.getState(dep)).toMatchObject({ state: 'OPEN', openedAt: T0, version: 9 });
    expect(transitions).toEqual([expect.objectContaining({ dependency: dep, from: 'CLOSED', to: 'OPEN', at: T0, version: 9, window: { calls: 5, failures: 4 } })]);
    expect(storeErrors).toEqual([]);
  });

  it('does not count failures in buckets that slid out of the window', async () => {
    const { breaker, dep, advance } = setup({ failureThreshold: 3, minimumCalls: 3 });
    await outcome(breaker, dep, fail());
    await outcome(breaker, dep, fail());
    advance(60_000);
    await outcome(breaker, dep, fail());
    expect(await breaker.getState(dep)).toMatchObject({ state: 'CLOSED', window: { calls: 1, failures: 1 } });
    await outcome(breaker, dep, fail());
    await outcome(breaker, dep, fail());
    expect((await breaker.getState(dep)).state).toBe('OPEN');
  });

  it('refuses without calling fn while OPEN', async () => {
    const { breaker, dep, advance } = setup();
    await trip(breaker, dep);
    advance(29_999);
    const fn = jest.fn(ok);
    expect(await outcome(breaker, dep, fn)).toBeInstanceOf(CircuitOpen);
    expect(fn).not.toHaveBeenCalled();
  });

  it('after the cool-down, 50 concurrent calls invoke fn exactly once (the probe); 49 get CircuitOpen', async () => {
    const { breaker, dep, advance, transitions, storeErrors } = setup();
    await trip(breaker, dep);
    advance(30_000);
    let invoked = 0;
    let refused = 0;
    const other: unknown[] = [];
    const gate = deferred<void>();
    const check = () => {
      if (invoked + refused + other.length === 50) gate.resolve();
    };
    const results = await Promise.all(
      Array.from({ length: 50 }, () =>
        breaker
          .call(dep, async () => {
            invoked++;
            check();
            await gate.promise; // the probe holds on until every caller has been decided
            return 'probed';
          })
          .catch((err: unknown) => {
            if (err instanceof CircuitOpen) refused++;
            else other.push(err);
            check();
            return 'refused';
          }),
      ),
    );
    expect(other).toEqual([]);
    expect(invoked).toBe(1);
    expect(refused).toBe(49);
    expect(results.filter((r) => r === 'probed')).toHaveLength(1);
    expect(await breaker.getState(dep)).toMatchObject({ state: 'CLOSED', version: 7 });
    expect(transitions.map((t) => `${t.from}>${t.to}`)).toEqual(['CLOSED>OPEN', 'OPEN>HALF_OPEN', 'HALF_OPEN>CLOSED']);
    expect(storeErrors).toEqual([]);
  });

  it('probe success closes the breaker', async () => {
    const { breaker, dep, advance, transitions } = setup();
    await trip(breaker, dep);
    advance(30_000);
    expect(await breaker.call(dep, ok)).toBe('ok');
    expect(await breaker.getState(dep)).toMatchObject({ state: 'CLOSED', openedAt: T0, probeLeaseUntil: null, version: 7 });
    // closed means closed: calls flow, and the pre-trip failures (still within 60 s) do not re-trip it
    await outcome(breaker, dep, fail());
    expect(await breaker.call(dep, ok)).toBe('ok');
    expect((await breaker.getState(dep)).state).toBe('CLOSED');
    expect(transitions).toHaveLength(3);
  });

  it('probe failure reopens the breaker with a new openedAt', async () => {
    const { breaker, dep, advance, transitions } = setup();
    await trip(breaker, dep);
    advance(31_000);
    const err = new TransientError('still 503');
    expect(await outcome(breaker, dep, fail(err))).toBe(err);
    expect(await breaker.getState(dep)).toMatchObject({ state: 'OPEN', openedAt: T0 + 31_000, version: 7, retryAt: T0 + 61_000 });
    expect(transitions[2]).toMatchObject({ from: 'HALF_OPEN', to: 'OPEN', at: T0 + 31_000, version: 7 });
    advance(29_999);
    expect(await outcome(breaker, dep, ok)).toBeInstanceOf(CircuitOpen);
  });

  it('a lost probe (lease taken, never finished) is superseded once the lease expires', async () => {
    const { breaker, dep, advance, transitions } = setup({ probeLeaseSeconds: 40 });
    await trip(breaker, dep);
    advance(30_000);
    const hung = deferred<string>();
    const hungCall = breaker.call(dep, () => hung.promise); // takes the lease and never reports back
    for (let i = 0; i < 100 && (await breaker.getState(dep)).state !== 'HALF_OPEN'; i++) await new Promise((r) => setTimeout(r, 5));
    expect(await breaker.getState(dep)).toMatchObject({ state: 'HALF_OPEN', probeLeaseUntil: T0 + 70_000, version: 6 });

    advance(39_999);
    const tooEarly = jest.fn(ok);
    expect(await outcome(breaker, dep, tooEarly)).toBeInstanceOf(CircuitOpen);
    expect(tooEarly).not.toHaveBeenCalled();

    advance(1);
    const next = jest.fn(ok);
    expect(await breaker.call(dep, next)).toBe('ok');
    expect(next).toHaveBeenCalledTimes(1);
    expect(await breaker.getState(dep)).toMatchObject({ state: 'CLOSED', version: 8 });

    const late = new TransientError('late');
    hung.reject(late);
    await expect(hungCall).rejects.toBe(late);
    expect(await breaker.getState(dep)).toMatchObject({ state: 'CLOSED', version: 8 });
    expect(transitions.map((t) => `${t.from}>${t.to}`)).toEqual(['CLOSED>OPEN', 'OPEN>HALF_OPEN', 'HALF_OPEN>HALF_OPEN', 'HALF_OPEN>CLOSED']);
  });

  it('a BadRequest counts as a call, not a failure, and is rethrown unchanged', async () => {
    const { breaker, dep, transitions } = setup({ failureThreshold: 1, minimumCalls: 1 });
    const bad = new BadRequest('400 missing field', { status: 400 });
    for (let i = 0; i < 5; i++) expect(await outcome(breaker, dep, fail(bad))).toBe(bad);
    expect(await breaker.getState(dep)).toMatchObject({ state: 'CLOSED', window: { calls: 5, failures: 0 } });
    expect(transitions).toEqual([]);
  });

  it('lets only one of many concurrent failing callers trip it', async () => {
    const { breaker, dep, transitions } = setup({ failureThreshold: 3, minimumCalls: 3 });
    await Promise.all(Array.from({ length: 20 }, () => outcome(breaker, dep, fail())));
    expect((await breaker.getState(dep)).state).toBe('OPEN');
    expect(transitions).toHaveLength(1);
  });

  it('bounds the first wave: 50 runs against a failing dependency on 127.0.0.1 send at most the wave in flight plus one', async () => {
    // The default trip rule (5 failures in 60 s, at least 5 calls). Each "run" makes up to 3 attempts and takes its
    // fallback on CircuitOpen, as the state machine does with a model tier.
    const { breaker, dep } = setup({ failureThreshold: 5, minimumCalls: 5 });
    const server = await startLoopback();
    const held: ServerResponse[] = [];
    server.on('/model', (_req, res) => held.push(res));
    const answer503 = (res: ServerResponse) => res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":"down"}');
    const send = async () => {
      const res = await fetch(server.url('/model'), { method: 'POST', body: '{}' });
      await res.text();
      throw new TransientError(`upstream answered ${res.status}`);
    };
    let settled = 0;
    const run = async () => {
      try {
        for (let attempt = 0; attempt < 3; attempt++) {
          const err = await outcome(breaker, dep, send);
          if (err === undefined || err instanceof CircuitOpen) return;
        }
      } finally {
        settled++;
      }
    };
    try {
      // The first wave: 10 runs read CLOSED and are in flight before any answer.
      const runs = Array.from({ length: 10 }, run);
      await until('the first wave to reach the dependency', () => server.requests.length === 10, 5_000, 2);
      // The first answer is a failure: from now on the breaker is suspect; that run's retry is the one admitted call.
      answer503(held.shift() as ServerResponse);
      await until("the failed run's retry to reach the dependency", () => server.requests.length === 11, 5_000, 2);
      // 40 more runs arrive while the first wave is still in flight: without admission every one of them would send.
      runs.push(...Array.from({ length: 40 }, run));
      await until('the late runs to be refused (or to send)', () => settled >= 40 || server.requests.length > 25, 5_000, 2);
      // Let every held request fail; the first wave's failures trip the breaker.
      await until(
        'every run to settle',
        () => {
          for (const res of held.splice(0)) answer503(res);
          return settled === 50;
        },
        5_000,
        2,
      );
      await Promise.all(runs);
      expect(server.requests.length).toBeLessThanOrEqual(25);
      expect(server.requests.length).toBeLessThanOrEqual(10 + 2); // the wave, the admitted retry, at most one more
      expect((await breaker.getState(dep)).state).toBe('OPEN');
    } finally {
      for (const res of held.splice(0)) answer503(res);
      await server.close();
    }
  });
});
