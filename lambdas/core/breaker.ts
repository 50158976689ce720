/**
 * The one circuit breaker, put in front of every external dependency: each model tier, each HTTP tool,
 * the retriever. Pure logic: the state machine, the rolling-window arithmetic and the {@link CircuitBreaker} that
 * drives them through an injected {@link BreakerStore} (DynamoDB in lambdas/store/breaker-store.ts).
 *
 * States:
 * - CLOSED: calls go through; each outcome is added to the current time bucket of the rolling window. After a failure
 *   that counts (`countsForBreaker`), failures ≥ failureThreshold and calls ≥ minimumCalls in the window trip the
 *   breaker to OPEN.
 * - CLOSED and suspect (the first counted failure of a window made it so, for at most windowSeconds): calls are
 *   admitted one at a time. The caller that wins a conditional write takes the admission lease and makes the call;
 *   everyone else gets CircuitOpen (their fallback), as from an open breaker. Its success (or any answer such as a
 *   4xx) clears the suspicion; its counted failure trips the breaker when the window says so, else gives the lease
 *   back. This bounds the first wave against a failing dependency to the calls already in flight plus one.
 * - OPEN: calls are refused at once with CircuitOpen (the dependency is not called) until cooldownSeconds have passed
 *   since openedAt. Then exactly one caller wins a conditional write that takes the probe lease (HALF_OPEN).
 * - HALF_OPEN: one probe is in flight; everyone else gets CircuitOpen. Probe success → CLOSED; a probe failure that
 *   counts → OPEN with a new openedAt. A probe that never reports back is superseded once its lease has expired:
 *   the next caller takes the lease over (HALF_OPEN → HALF_OPEN) and the stale probe's late report is ignored.
 *
 * Every transition is one compare-and-set on `version` (bumped by each transition), so concurrent callers in
 * different Lambdas cannot both win: losers see someone else's state and act on it, they never overwrite it.
 *
 * Times: the clock and every stored instant are epoch milliseconds, except a bucket's `expiresAt`, which is epoch
 * seconds (the table's TTL attribute). Config durations are seconds.
 */
import {
  admitted,
  type BreakerConfig,
  type BreakerState,
  type BreakerStore,
  type BreakerTransition,
  bucketExpiresAt,
  bucketStartOf,
  closed,
  cooldownEndsAt,
  decide,
  isSuspect,
  leased,
  released,
  reopened,
  resolveBreakerConfig,
  shouldOpen,
  suspected,
  tripped,
  type WindowTotals,
  windowRange,
} from './breaker-rules';
import { CircuitOpen, countsForBreaker } from './errors';

export * from './breaker-rules';

// ---------------------------------------------------------------------------------------------------------------
// The breaker

/** Visibility: the stored state of one dependency and its current window. */
export interface BreakerSnapshot extends BreakerState {
  dependency: string;
  enabled: boolean;
  window: WindowTotals;
  /** OPEN: when a probe may be tried; HALF_OPEN: when the probe's lease expires; CLOSED: null. */
  retryAt: number | null;
}

export interface CircuitBreakerOptions {
  store: BreakerStore;
  /** Defaults for every dependency (`config.breaker`). */
  config: BreakerConfig;
  /** Per-dependency overrides keyed by dependency name, e.g. "model:primary", "tool:retrieve" (`config.breakers`). */
  overrides?: Record<string, Partial<BreakerConfig> | undefined>;
  /**
   * Clock, epoch ms.
   * @default Date.now
   */
  now?: () => number;
  /**
   * Called once per transition, by the caller that won it. Not awaited; its errors (sync or async) are swallowed so
   * a failing logger never fails a call.
   */
  onTransition?: (transition: BreakerTransition) => void | Promise<void>;
  /**
   * Called when the store fails (not a lost race: a real error). The breaker then fails open for CLOSED calls (the
   * call goes through unrecorded) and closed for probes (CircuitOpen): it never makes a healthy dependency fail.
   */
  onStoreError?: (err: unknown, info: { dependency: string; operation: string }) => void;
}

/**
 * A circuit breaker for many dependencies, sharing its state through a {@link BreakerStore} so every Lambda sees the
 * same breaker. `call(dependency, fn)` runs `fn` unless the breaker of `dependency` refuses it with CircuitOpen.
 */
export class CircuitBreaker {
  private readonly store: BreakerStore;
  private readonly defaults: BreakerConfig;
  private readonly overrides: Record<string, Partial<BreakerConfig> | undefined>;
  private readonly now: () => number;
  private readonly onTransition?: CircuitBreakerOptions['onTransition'];
  private readonly onStoreError?: CircuitBreakerOptions['onStoreError'];

  constructor(options: CircuitBreakerOptions) {
    this.store = options.store;
    this.defaults = options.config;
    this.overrides = options.overrides ?? {};
    this.now = options.now ?? Date.now;
    this.onTransition = options.onTransition;
    this.onStoreError = options.onStoreError;
  }

  /** The same as {@link call}, as a standalone function (the tools' `Guard`). */
  readonly guard = <T>(dependency: string, fn: () => Promise<T>): Promise<T> => this.call(dependency, fn);

  /** The effective config of a dependency. */
  configFor(dependency: string): BreakerConfig {
    return resolveBreakerConfig(this.defaults, this.overrides[dependency]);
  }

  /**
   * Runs `fn` through the breaker of `dependency`. Throws CircuitOpen without calling `fn` when the breaker refuses;
   * otherwise returns or rethrows exactly what `fn` did.
   */
  async call<T>(dependency: string, fn: () => Promise<T>): Promise<T> {
    const config = this.configFor(dependency);
    if (!config.enabled) return fn();
    let state: BreakerState;
    try {
      state = await this.store.getState(dependency);
    } catch (err) {
      this.storeError(err, dependency, 'getState');
      return fn(); // fail open: the breaker must not be the outage
    }
    const decision = decide(state, this.now(), config);
    switch (decision.action) {
      case 'allow':
        return this.closedCall(dependency, config, state, fn);
      case 'admit-attempt':
        return this.admit(dependency, config, state, fn);
      case 'probe-attempt':
        return this.probe(dependency, config, state, decision.takeover, fn);
      case 'reject':
        throw circuitOpen(dependency, decision.until, decision.probing);
    }
  }

  /** The stored state and current window of a dependency. */
  async getState(dependency: string): Promise<BreakerSnapshot> {
    const config = this.configFor(dependency);
    const state = await this.store.getState(dependency);
    const now = this.now();
    const window = await this.store.readWindow(dependency, windowRange(now, config, state.openedAt), now);
    const retryAt = state.state === 'OPEN' ? cooldownEndsAt(state, config) : state.state === 'HALF_OPEN' ? state.probeLeaseUntil : null;
    return { dependency, enabled: config.enabled, ...state, window, retryAt };
  }

  private async closedCall<T>(dependency: string, config: BreakerConfig, state: BreakerState, fn: () => Promise<T>): Promise<T> {
    let result: T;
    try {
      result = await fn();
    } catch (err) {
      if (!countsForBreaker(err)) {
        await this.record(dependency, config, false);
        throw err;
      }
      // Suspect first (and alongside the count): the sooner other callers see it, the smaller the first wave.
      const [current] = await Promise.all([this.suspect(dependency, config, state), this.record(dependency, config, true)]);
      await this.maybeTrip(dependency, config, current);
      throw err;
    }
    await this.record(dependency, config, false);
    return result;
  }

  private async record(dependency: string, config: BreakerConfig, failed: boolean): Promise<void> {
    const bucketStart = bucketStartOf(this.now(), config);
    try {
      await this.store.recordOutcome(dependency, { bucketStart, expiresAt: bucketExpiresAt(bucketStart, config) }, failed);
    } catch (err) {
      this.storeError(err, dependency, 'recordOutcome');
    }
  }

  /**
   * After a counted failure: trips the breaker when the window says so. Only one concurrent tripper wins. Resolves
   * the state last read when the breaker stayed CLOSED, null when it is open (or the store failed).
   */
  private async maybeTrip(dependency: string, config: BreakerConfig, seen: BreakerState): Promise<BreakerState | null> {
    let current = seen;
    try {
      // A lost race re-reads and re-checks: a breaker that was tripped and closed meanwhile has a new window.
      for (let attempt = 0; attempt < 3; attempt++) {
        if (current.state !== 'CLOSED') return null; // someone else opened it
        const now = this.now();
        const window = await this.store.readWindow(dependency, windowRange(now, config, current.openedAt), now);
        if (!shouldOpen(window, config)) return current;
        const next = tripped(current, now);
        if (await this.store.compareAndSet(dependency, current, next)) {
          const reason = `${window.failures} failures in ${window.calls} calls within ${config.windowSeconds}s (threshold ${config.failureThreshold}, minimum ${config.minimumCalls} calls)`;
          this.emit({ dependency, from: 'CLOSED', to: 'OPEN', at: now, reason, version: next.version, window });
          return null;
        }
        current = await this.store.getState(dependency);
      }
    } catch (err) {
      this.storeError(err, dependency, 'trip');
    }
    return null;
  }

  /**
   * A counted failure in CLOSED makes the breaker suspect (unless it already is): from then on, for the window, calls
   * are admitted one at a time until one succeeds. Bounds the first wave against a failing dependency. Resolves the
   * state as last written or read.
   */
  private async suspect(dependency: string, config: BreakerConfig, seen: BreakerState): Promise<BreakerState> {
    let current = seen;
    try {
      for (let attempt = 0; attempt < 3; attempt++) {
        if (current.state !== 'CLOSED' || isSuspect(current, this.now(), config)) return current;
        const next = suspected(current, this.now());
        if (await this.store.compareAndSet(dependency, current, next)) return next;
        current = await this.store.getState(dependency);
      }
    } catch (err) {
      this.storeError(err, dependency, 'suspect');
    }
    return current;
  }

  /**
   * CLOSED and suspect: the caller that wins the admission lease makes the call, everyone else gets CircuitOpen.
   * Success (or an answer such as a 4xx) clears the suspicion; a counted failure may trip the breaker, else the lease
   * is given back for the next caller.
   */
  private async admit<T>(dependency: string, config: BreakerConfig, state: BreakerState, fn: () => Promise<T>): Promise<T> {
    const lease = admitted(state, this.now(), config);
    let won = false;
    try {
      won = await this.store.compareAndSet(dependency, state, lease);
    } catch (err) {
      this.storeError(err, dependency, 'admit');
    }
    if (!won) throw circuitOpen(dependency, lease.probeLeaseUntil ?? this.now(), true);
    let result: T;
    try {
      result = await fn();
    } catch (err) {
      const counts = countsForBreaker(err);
      await this.record(dependency, config, counts);
      if (counts && !(await this.maybeTrip(dependency, config, lease))) throw err;
      await this.settleAdmission(dependency, lease, counts ? released(lease) : closed(lease));
      throw err;
    }
    await this.record(dependency, config, false);
    await this.settleAdmission(dependency, lease, closed(lease));
    return result;
  }

  /** Ends an admitted call, iff its lease is still the current state (no transition: the breaker stays CLOSED). */
  private async settleAdmission(dependency: string, lease: BreakerState, next: BreakerState): Promise<void> {
    try {
      await this.store.compareAndSet(dependency, lease, next);
    } catch (err) {
      this.storeError(err, dependency, 'settleAdmission');
    }
  }

  private async probe<T>(dependency: string, config: BreakerConfig, state: BreakerState, takeover: boolean, fn: () => Promise<T>): Promise<T> {
    const now = this.now();
    const lease = leased(state, now, config);
    let won = false;
    try {
      won = await this.store.compareAndSet(dependency, state, lease);
    } catch (err) {
      this.storeError(err, dependency, 'takeProbeLease');
    }
    if (!won) throw circuitOpen(dependency, lease.probeLeaseUntil ?? now, true);
    this.emit({
      dependency,
      from: state.state,
      to: 'HALF_OPEN',
      at: now,
      reason: takeover ? 'the previous probe did not report back before its lease expired; probing again' : 'cool-down elapsed; probing',
      version: lease.version,
    });
    let result: T;
    try {
      result = await fn();
    } catch (err) {
      if (countsForBreaker(err)) {
        const at = this.now();
        await this.settleProbe(dependency, lease, reopened(lease, at), at, `probe failed: ${errorName(err)}`);
      } else {
        // A 4xx or a refusal is an answer: the dependency is reachable.
        await this.settleProbe(dependency, lease, closed(lease), this.now(), `probe reached the dependency (${errorName(err)})`);
      }
      throw err;
    }
    await this.settleProbe(dependency, lease, closed(lease), this.now(), 'probe succeeded');
    return result;
  }

  /** Ends a probe, iff its lease is still the current state (a superseded probe's report is dropped). */
  private async settleProbe(dependency: string, lease: BreakerState, next: BreakerState, at: number, reason: string): Promise<void> {
    try {
      if (await this.store.compareAndSet(dependency, lease, next)) {
        this.emit({ dependency, from: 'HALF_OPEN', to: next.state, at, reason, version: next.version });
      }
    } catch (err) {
      this.storeError(err, dependency, 'settleProbe');
    }
  }

  private emit(transition: BreakerTransition): void {
    if (!this.onTransition) return;
    try {
      const out = this.onTransition(transition);
      if (out && typeof (out as Promise<void>).catch === 'function') (out as Promise<void>).catch(() => undefined);
    } catch {
      // a failing observer never fails the call
    }
  }

  private storeError(err: unknown, dependency: string, operation: string): void {
    try {
      this.onStoreError?.(err, { dependency, operation });
    } catch {
      // ignore
    }
  }
}

function circuitOpen(dependency: string, until: number, probing: boolean): CircuitOpen {
  const when = new Date(until).toISOString();
  return new CircuitOpen(
    probing
      ? `circuit open for ${dependency}: a probe is in flight (lease until ${when}); no request sent`
      : `circuit open for ${dependency}: cooling down until ${when}; no request sent`,
  );
}

function errorName(err: unknown): string {
  return err instanceof Error ? err.name : typeof err;
}
