import { randomUUID } from 'node:crypto';
import { TransientError } from '../errors';
import type { StoredMessage } from '../ports';
import type { Invocation, LoopDeps } from './state';

/** How often a copy of a step that another copy is calling the model for looks for its stored answer. */
export const CLAIM_POLL_MS = 100;
/** The claim's lease when the invocation's remaining time is unknown (the longest a Lambda runs). */
const DEFAULT_CLAIM_LEASE_MS = 900_000;

/**
 * A step's model call under its claim (docs/hybrid.md): one copy of a step calls the model; another copy running at
 * the same time (an Express segment run twice at once) waits for the stored answer and replays it. The claim lasts
 * as long as the holder's invocation may (a crashed holder's claim ends with it); a copy that waits that long without
 * an answer fails transiently (the state machine retries the step). Without claims (`deps.modelClaims`), `call` runs.
 * The model step claims inside Express segments only, where whole copies of a step may run at once (Express is
 * at-least-once); in the standard machine a step's copies are its Task's retries (a retry after a Task timeout while
 * the first invocation still runs is not covered there).
 */
export async function withModelClaim<T>(
  deps: Pick<LoopDeps, 'runs' | 'modelClaims' | 'clock' | 'sleep'>,
  runId: string,
  step: number,
  invocation: Invocation,
  call: () => Promise<T>,
): Promise<T | StoredMessage> {
  const claims = deps.modelClaims;
  if (!claims) return call();
  const owner = randomUUID();
  const leaseMs = Math.max(1000, invocation.remainingMs?.() ?? DEFAULT_CLAIM_LEASE_MS);
  const clock = deps.clock ?? Date.now;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const giveUpAt = clock() + leaseMs - 1000;
  while (!(await claims.claim(runId, step, owner, leaseMs))) {
    const stored = await deps.runs.getMessage(runId, step, 0);
    if (stored) return stored;
    if (clock() >= giveUpAt) throw new TransientError(`step ${step}'s model call is in progress in another invocation; retry to read its answer`);
    await sleep(CLAIM_POLL_MS);
  }
  try {
    // The other copy may have stored its answer and its claim's lease ended just before this one took it.
    return (await deps.runs.getMessage(runId, step, 0)) ?? (await call());
  } catch (err) {
    // Given back only when the call failed (its retry, or the fallback tier, claims again at once); once the answer is
    // stored every copy reads it, and the item is left to the table's TTL (one write per step, not two).
    await claims.release(runId, step, owner);
    throw err;
  }
}
