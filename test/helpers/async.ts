/** The error `promise` rejects with; fails the test when it resolves. */
export async function rejection<E extends Error = Error & { status?: number; retryAfterSeconds?: number }>(promise: Promise<unknown>): Promise<E> {
  const outcome = await promise.then(
    (value) => ({ ok: true as const, value }),
    (err: unknown) => ({ ok: false as const, err }),
  );
  if (outcome.ok) throw new Error(`expected a rejection, got ${JSON.stringify(outcome.value)}`);
  return outcome.err as E;
}

/** A promise whose settlement the test controls. */
export function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Resolves after `ms` on a real timer: only for waiting on a real process or server; otherwise poll with until(). */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Reads `get` every `everyMs` until `done` holds for what it read, and returns that; fails naming `what` once `ms`
 * have passed (30 s: generous for a loaded 2-core machine; a passing test never waits it out). Every wait is bounded.
 * Every 50 ms by default: the local API Gateway applies the stage's throttle (20 requests per second) to polls
 * through the local server. The one polling helper of the tests (until() below is its boolean form).
 */
export async function poll<T>(what: string, get: () => Promise<T> | T, done: (value: T) => boolean, ms = 30_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const value = await get();
    if (done(value)) return value;
    await sleep(everyMs);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Polls `check` until it holds (see poll()). */
export async function until(what: string, check: () => Promise<boolean> | boolean, ms = 30_000, everyMs = 50): Promise<void> {
  await poll(what, check, (ok) => ok, ms, everyMs);
}
