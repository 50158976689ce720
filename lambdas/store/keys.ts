/** Key layout of the one agent table (docs/architecture.md, The table). */

const pad = (n: number, width: number) => String(n).padStart(width, '0');

export const runPk = (runId: string) => `RUN#${runId}`;
export const RUN_SK = 'META';
/** Messages sort by step then sequence within the step (0 = assistant, 1.. = tool results in call order). */
export const messageSk = (step: number, seq: number) => `MSG#${pad(step, 5)}#${pad(seq, 3)}`;
export const MESSAGE_PREFIX = 'MSG#';
/** The claim of a step's model call (lambdas/store/model-claims.ts): not a message, not an event. */
export const modelClaimSk = (step: number) => `CLAIM#MODEL#${pad(step, 5)}`;
/** Trace events sort by time, then a per-writer sequence that keeps same-millisecond events apart. */
export const eventSk = (at: string, suffix: string) => `EVT#${at}#${suffix}`;
export const EVENT_PREFIX = 'EVT#';
export const USER_INDEX = 'byUser';
/** A user's threads: one partition per user, newest first by the time-ordered thread id (docs/threads.md). */
export const threadsPk = (owner: string) => `THREADS#${owner}`;
export const THREAD_PREFIX = 'THREAD#';
export const threadSk = (threadId: string) => `${THREAD_PREFIX}${threadId}`;

/** A page's `nextCursor`: the query's LastEvaluatedKey, opaque to callers. */
export function encodeCursor(key: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

/** The ExclusiveStartKey of a `nextCursor`; anything else is an "invalid cursor" error. */
export function decodeCursor(cursor: string): Record<string, unknown> {
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (value && typeof value === 'object') return value as Record<string, unknown>;
  } catch {
    /* fall through */
  }
  throw new Error('invalid cursor');
}
