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

/**
 * Polls `check` (on timers, not a busy loop) until it returns a truthy value, and returns that value; throws after
 * `timeoutMs` naming `what`. For waiting on real I/O (loopback servers, dynalite) without fixed sleeps.
 */
export async function until<T>(check: () => T | Promise<T>, what = 'the condition', timeoutMs = 5000, everyMs = 2): Promise<Exclude<T, false | undefined | null>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as Exclude<T, false | undefined | null>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
