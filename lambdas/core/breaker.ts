/**
 * The one circuit breaker, put in front of every external dependency: each model tier, each HTTP tool,
 * the retriever. Pure logic: the state machine, the rolling-window arithmetic and the {@link CircuitBreaker} that
 * drives them through an injected {@link BreakerStore} (DynamoDB in lambdas/store/breaker-store.ts).
 *
 * States:
 * - CLOSED: calls go through; each outcome is added to the current time bucket of the rolling window. After a failure
 *   that counts (`countsForBreaker`), failures ≥ failureThreshold and calls ≥ minimumCalls in the window trip the
 *   breaker to OPEN.
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
import type { BreakerConfig } from './config';
import { CircuitOpen, countsForBreaker } from './errors';

export type { BreakerConfig } from './config';

export type CircuitState = 'CLOSED' | 'OPEN' | 'HALF_OPEN';

/** The state item of one dependency (pk BRK#<dependency>, sk STATE). */
export interface BreakerState {
  state: CircuitState;
  /**
   * When the breaker last opened (epoch ms); null when it never has. Kept after closing: window buckets that start at
   * or before it are ignored, so failures from before a trip cannot re-trip a freshly closed breaker.
   */
  openedAt: number | null;
  /** HALF_OPEN: until when (epoch ms) the probe holds its lease; null otherwise. */
  probeLeaseUntil: number | null;
  /** Bumped by every transition; 0 means nothing is stored yet. Every write is conditional on it. */
  version: number;
}

/** The state of a dependency that has never been written. */
export const INITIAL_BREAKER_STATE: Readonly<BreakerState> = Object.freeze({
  state: 'CLOSED',
  openedAt: null,
  probeLeaseUntil: null,
  version: 0,
});

/** Calls and counted failures in the rolling window. */
export interface WindowTotals {
  calls: number;
  failures: number;
}

/** One time bucket of the rolling window (pk BRK#<dependency>, sk WIN#<bucketStart>). */
export interface WindowBucket {
  /** Epoch ms, a multiple of the bucket size. */
  bucketStart: number;
  calls: number;
  failures: number;
  /** Epoch seconds; a bucket past it is ignored whether or not TTL has deleted it yet. */
  expiresAt: number;
}

/** Inclusive range of bucket starts that make up the window at some instant. */
export interface WindowRange {
  from: number;
  to: number;
}

/** What to do with a call, given the stored state. */
export type BreakerDecision =
  | { action: 'allow' }
  /** Try to take the probe lease; `takeover` when it replaces an expired lease rather than ending a cool-down. */
  | { action: 'probe-attempt'; takeover: boolean }
  /** Refuse with CircuitOpen; `until` is when a probe may next be tried (epoch ms). */
  | { action: 'reject'; until: number; probing: boolean };

/** A state change, reported once, by the caller whose write won it (for trace events and logs). */
export interface BreakerTransition {
  dependency: string;
  from: CircuitState;
  to: CircuitState;
  /** Epoch ms (the breaker's clock). */
  at: number;
  reason: string;
  /** The version the transition wrote. */
  version: number;
  /** The window that tripped the breaker (CLOSED → OPEN only). */
  window?: WindowTotals;
}

/**
 * Persistence of breaker state and window buckets. Implementations must make `compareAndSet` a single atomic
 * conditional write and `recordOutcome` an atomic increment (lambdas/store/breaker-store.ts).
 */
export interface BreakerStore {
  /** The stored state, or {@link INITIAL_BREAKER_STATE} when there is none. */
  getState(dependency: string): Promise<BreakerState>;
  /**
   * Writes `next` iff the stored state still has `expected`'s version and state (version 0: iff nothing is stored).
   * Resolves false when another writer got there first; rejects only on store failures.
   */
  compareAndSet(dependency: string, expected: BreakerState, next: BreakerState): Promise<boolean>;
  /** Adds one call, and one failure when `failed`, to a window bucket (creating it with `expiresAt`). */
  recordOutcome(dependency: string, bucket: { bucketStart: number; expiresAt: number }, failed: boolean): Promise<void>;
  /** Sum of the buckets whose start lies in `range` and whose `expiresAt` is after `now`. */
  readWindow(dependency: string, range: WindowRange, now: number): Promise<WindowTotals>;
}

// ---------------------------------------------------------------------------------------------------------------
// Pure decisions

/** Default probe lease when `probeLeaseSeconds` is not set: the cool-down, but at least 30 s. */
export const DEFAULT_MIN_PROBE_LEASE_SECONDS = 30;

/**
 * How long a probe may hold its lease before another caller may probe: `probeLeaseSeconds`, else
 * max(cooldownSeconds, 30). Set it above the dependency's client timeout, or a slow probe gets a twin.
 */
export function probeLeaseSeconds(config: BreakerConfig): number {
  return config.probeLeaseSeconds ?? Math.max(config.cooldownSeconds, DEFAULT_MIN_PROBE_LEASE_SECONDS);
}

/** Bucket size of the rolling window: max(1, floor(windowSeconds / 6)) seconds, in ms. */
export function bucketMillis(config: Pick<BreakerConfig, 'windowSeconds'>): number {
  return Math.max(1, Math.floor(config.windowSeconds / 6)) * 1000;
}

/** Number of buckets the window sums (the current one included): ceil(windowSeconds / bucket size). */
export function bucketCount(config: Pick<BreakerConfig, 'windowSeconds'>): number {
  return Math.ceil((config.windowSeconds * 1000) / bucketMillis(config));
}

/** Start (epoch ms) of the bucket `now` falls in. */
export function bucketStartOf(now: number, config: Pick<BreakerConfig, 'windowSeconds'>): number {
  const size = bucketMillis(config);
  return Math.floor(now / size) * size;
}

/**
 * When a bucket stops mattering (epoch seconds): once it has slid out of every window, plus one bucket of slack.
 * Stored as the TTL attribute and checked in code (TTL deletes late, and dynalite has none).
 */
export function bucketExpiresAt(bucketStart: number, config: Pick<BreakerConfig, 'windowSeconds'>): number {
  return Math.ceil((bucketStart + (bucketCount(config) + 1) * bucketMillis(config)) / 1000);
}

/**
 * The buckets that make up the window at `now`: the current bucket and the ones before it, `bucketCount` in all —
 * minus any that start at or before `openedAt` (failures from before the last trip never count again).
 */
export function windowRange(now: number, config: Pick<BreakerConfig, 'windowSeconds'>, openedAt: number | null = null): WindowRange {
  const size = bucketMillis(config);
  const to = bucketStartOf(now, config);
  let from = to - (bucketCount(config) - 1) * size;
  if (openedAt !== null) from = Math.max(from, Math.floor(openedAt / size) * size + size);
  return { from, to };
}

/** Sums the buckets inside `range` that have not expired at `now` (what a store's `readWindow` returns). */
export function sumWindow(buckets: Iterable<WindowBucket>, range: WindowRange, now: number): WindowTotals {
  const totals: WindowTotals = { calls: 0, failures: 0 };
  for (const b of buckets) {
    if (b.bucketStart < range.from || b.bucketStart > range.to) continue;
    if (b.expiresAt * 1000 <= now) continue;
    totals.calls += b.calls;
    totals.failures += b.failures;
  }
  return totals;
}

/** True when the window says the dependency is unhealthy: failures ≥ failureThreshold and calls ≥ minimumCalls. */
export function shouldOpen(window: WindowTotals, config: Pick<BreakerConfig, 'failureThreshold' | 'minimumCalls'>): boolean {
  return window.failures >= config.failureThreshold && window.calls >= config.minimumCalls;
}

/** When an OPEN breaker may be probed (epoch ms). */
export function cooldownEndsAt(state: BreakerState, config: Pick<BreakerConfig, 'cooldownSeconds'>): number {
  return (state.openedAt ?? 0) + config.cooldownSeconds * 1000;
}

/** What to do with a call at `now`, given the stored state. */
export function decide(state: BreakerState, now: number, config: BreakerConfig): BreakerDecision {
  switch (state.state) {
    case 'CLOSED':
      return { action: 'allow' };
    case 'OPEN': {
      const until = cooldownEndsAt(state, config);
      return now >= until ? { action: 'probe-attempt', takeover: false } : { action: 'reject', until, probing: false };
    }
    case 'HALF_OPEN': {
      const until = state.probeLeaseUntil ?? 0;
      return now >= until ? { action: 'probe-attempt', takeover: true } : { action: 'reject', until, probing: true };
    }
  }
}

/** CLOSED → OPEN at `now`. */
export function tripped(state: BreakerState, now: number): BreakerState {
  return { state: 'OPEN', openedAt: now, probeLeaseUntil: null, version: state.version + 1 };
}

/** OPEN (cool-down over) or HALF_OPEN (lease expired) → HALF_OPEN with a fresh lease. */
export function leased(state: BreakerState, now: number, config: BreakerConfig): BreakerState {
  return {
    state: 'HALF_OPEN',
    openedAt: state.openedAt,
    probeLeaseUntil: now + probeLeaseSeconds(config) * 1000,
    version: state.version + 1,
  };
}

/** HALF_OPEN → CLOSED (the probe got through). `openedAt` stays: it fences off the pre-trip window. */
export function closed(state: BreakerState): BreakerState {
  return { state: 'CLOSED', openedAt: state.openedAt, probeLeaseUntil: null, version: state.version + 1 };
}

/** HALF_OPEN → OPEN (the probe failed): a new cool-down from `now`. */
export function reopened(state: BreakerState, now: number): BreakerState {
  return { state: 'OPEN', openedAt: now, probeLeaseUntil: null, version: state.version + 1 };
}

/** The config of one dependency: the defaults with that dependency's overrides (undefined keys ignored). */
export function resolveBreakerConfig(defaults: BreakerConfig, override?: Partial<BreakerConfig>): BreakerConfig {
  const merged: BreakerConfig = { ...defaults };
  if (override) {
    for (const [key, value] of Object.entries(override) as [keyof BreakerConfig, BreakerConfig[keyof BreakerConfig]][]) {
      if (value !== undefined) (merged as Record<string, unknown>)[key] = value;
    }
  }
  return merged;
}

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
      const counts = countsForBreaker(err);
      await this.record(dependency, config, counts);
      if (counts) await this.maybeTrip(dependency, config, state);
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

  /** After a counted failure: trips the breaker when the window says so. Only one concurrent tripper wins. */
  private async maybeTrip(dependency: string, config: BreakerConfig, seen: BreakerState): Promise<void> {
    let current = seen;
    try {
      // A lost race re-reads and re-checks: a breaker that was tripped and closed meanwhile has a new window.
      for (let attempt = 0; attempt < 3; attempt++) {
        if (current.state !== 'CLOSED') return; // someone else opened it
        const now = this.now();
        const window = await this.store.readWindow(dependency, windowRange(now, config, current.openedAt), now);
        if (!shouldOpen(window, config)) return;
        const next = tripped(current, now);
        if (await this.store.compareAndSet(dependency, current, next)) {
          const reason = `${window.failures} failures in ${window.calls} calls within ${config.windowSeconds}s (threshold ${config.failureThreshold}, minimum ${config.minimumCalls} calls)`;
          this.emit({ dependency, from: 'CLOSED', to: 'OPEN', at: now, reason, version: next.version, window });
          return;
        }
        current = await this.store.getState(dependency);
      }
    } catch (err) {
      this.storeError(err, dependency, 'trip');
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
