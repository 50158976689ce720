/**
 * Timers of any length. A Node timer holds at most 2^31-1 ms (~24.8 days): a longer delay fires after 1 ms (Node's
 * TimeoutOverflowWarning). Step Functions waits allow far more (a task's TimeoutSeconds, the machine's: up to a
 * year), so the engine's long waits are chunked: each chunk at most that long, the next armed when one ends, the
 * callback run when the whole delay has passed — at its time, never at once.
 */

/** The longest delay a Node timer holds (ms). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Where timers come from (the real ones; tests pass a virtual clock). */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface LongTimer {
  clear(): void;
}

/** Runs `fn` once `ms` have passed, however long that is (chunks of at most MAX_TIMER_MS). */
export function longTimeout(fn: () => void, ms: number, timers: Timers = realTimers): LongTimer {
  let handle: unknown;
  let cleared = false;
  const arm = (left: number) => {
    const step = Math.min(left, MAX_TIMER_MS);
    handle = timers.setTimeout(() => {
      if (cleared) return;
      if (left > step) arm(left - step);
      else fn();
    }, step);
  };
  arm(Math.max(0, ms));
  return {
    clear() {
      cleared = true;
      timers.clearTimeout(handle);
    },
  };
}
