/**
 * The breaker's state, its rolling-window arithmetic and its decisions: pure functions of the stored state, the clock
 * and the config (the states and rules are described in ./breaker.ts and docs/resilience.md).
 */
import type { BreakerConfig } from './config';

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
  /**
   * HALF_OPEN: until when (epoch ms) the probe holds its lease. CLOSED and suspect: until when the one admitted call
   * holds its lease. Null otherwise.
   */
  probeLeaseUntil: number | null;
  /**
   * CLOSED only: when the first counted failure of the current window was seen (epoch ms). While it is less than
   * windowSeconds old the breaker is suspect: calls are admitted one at a time under a lease ({@link decide}). Absent
   * (or null) when the breaker is not suspect; every transition between states clears it.
   */
  suspectSince?: number | null;
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
  /** CLOSED but suspect and no call admitted: try to take the admission lease (one call in flight decides). */
  | { action: 'admit-attempt' }
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
    case 'CLOSED': {
      if (!isSuspect(state, now, config)) return { action: 'allow' };
      const until = state.probeLeaseUntil ?? 0;
      return now >= until ? { action: 'admit-attempt' } : { action: 'reject', until, probing: true };
    }
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

/** True when a CLOSED breaker has seen a counted failure less than windowSeconds ago (and no success since). */
export function isSuspect(state: BreakerState, now: number, config: Pick<BreakerConfig, 'windowSeconds'>): boolean {
  return state.state === 'CLOSED' && typeof state.suspectSince === 'number' && now < state.suspectSince + config.windowSeconds * 1000;
}

/** CLOSED → CLOSED and suspect since `now` (a counted failure that did not trip the breaker). */
export function suspected(state: BreakerState, now: number): BreakerState {
  return { state: 'CLOSED', openedAt: state.openedAt, probeLeaseUntil: null, suspectSince: now, version: state.version + 1 };
}

/** CLOSED and suspect → the same with the admission lease taken at `now` (as long as a probe's lease). */
export function admitted(state: BreakerState, now: number, config: BreakerConfig): BreakerState {
  return { ...state, probeLeaseUntil: now + probeLeaseSeconds(config) * 1000, version: state.version + 1 };
}

/** The admitted call failed without tripping the breaker: its lease is given back, the breaker stays suspect. */
export function released(state: BreakerState): BreakerState {
  return { ...state, probeLeaseUntil: null, version: state.version + 1 };
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
