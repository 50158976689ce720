import type { RunRecord } from './ports';
import { runView } from './run-view';
import { TERMINAL_STATUSES, type TraceEvent } from './types';

/**
 * GET /runs/{id}/events (docs/api.md "Live progress"): the run's trace events as Server-Sent Events while they are
 * written. Each event is sent once, in the order (time, sort key), as `id: <sort key>` / `event: <kind>` /
 * `data: <event JSON>`; after the run has ended and its last events are out, `event: end` with the run, then the
 * stream closes. `Last-Event-ID` resumes after that event.
 *
 * Events are read with strongly consistent queries after the last sort key read (one per item prefix). An event is
 * sent only once it is `settleMs` old, so that an event stamped earlier but written a moment later (parallel tool
 * calls) is never overtaken: the order sent is the order of the data, and a resume from any id repeats none and
 * misses none.
 */

/** A trace event and the sort key of the item that holds it. */
export interface TraceItem {
  sk: string;
  event: TraceEvent;
}

/** Where a reader got to, per item prefix (trace events have their own items, model and tool events ride on messages). */
export interface TraceCursor {
  events?: string;
  messages?: string;
}

/** What the stream reads (implemented by lambdas/store/run-store.ts). */
export interface RunEventsSource {
  getRun(runId: string): Promise<RunRecord | undefined>;
  /** The run's trace items after the cursor, each prefix read with a strongly consistent query. */
  traceItemsAfter(runId: string, after: TraceCursor): Promise<TraceItem[]>;
}

export interface EventStreamOptions {
  /** The `Last-Event-ID` the client sent: resume after that event. */
  lastEventId?: string;
  /** A comment line after this long without a write (proxies and clients drop idle connections). */
  keepAliveMs?: number;
  /** Poll interval while events come; it doubles while nothing comes, up to `maxPollMs`. */
  pollMs?: number;
  maxPollMs?: number;
  /** How old an event must be before it is sent (see above). */
  settleMs?: number;
  /** Time left to the invocation: the stream closes (without `end`) when it is below `minRemainingMs`. */
  remainingMs: () => number;
  minRemainingMs?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** Aborted when the client has gone away: the stream stops polling at once. */
  signal?: AbortSignal;
}

export const KEEP_ALIVE_MS = 15_000;

/** One SSE frame of an event (JSON never holds a raw line break, so `data` is one line). */
export function eventFrame(item: TraceItem): string {
  return `id: ${item.sk}\nevent: ${item.event.type}\ndata: ${JSON.stringify(item.event)}\n\n`;
}

/** The last frame: the run as GET /runs/{id} shows it. */
export function endFrame(run: RunRecord): string {
  return `event: end\ndata: ${JSON.stringify(runView(run))}\n\n`;
}

export const KEEP_ALIVE_FRAME = ': keep-alive\n\n';

const order = (a: TraceItem, b: TraceItem) => (a.event.at < b.event.at ? -1 : a.event.at > b.event.at ? 1 : a.sk < b.sk ? -1 : a.sk > b.sk ? 1 : 0);
const time = (iso: string) => Date.parse(iso);

function advance(cursor: TraceCursor, items: TraceItem[]): TraceCursor {
  const next = { ...cursor };
  for (const { sk } of items) {
    if (sk.startsWith('EVT#') && (!next.events || sk > next.events)) next.events = sk;
    else if (sk.startsWith('MSG#') && (!next.messages || sk > next.messages)) next.messages = sk;
  }
  return next;
}

/**
 * Writes the run's events to `write` until the run has ended (`end`), the run is gone (erased), the client has gone
 * away (`closed`), or the invocation is about to run out of time (`deadline`: the client reconnects with
 * Last-Event-ID). Every loop is bounded by the invocation's remaining time.
 */
export async function streamRunEvents(
  source: RunEventsSource,
  runId: string,
  write: (chunk: string) => void | Promise<void>,
  options: EventStreamOptions,
): Promise<'end' | 'gone' | 'deadline' | 'closed'> {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const keepAliveMs = options.keepAliveMs ?? KEEP_ALIVE_MS;
  const pollMs = options.pollMs ?? 250;
  const maxPollMs = options.maxPollMs ?? 2000;
  const settleMs = options.settleMs ?? 500;
  const minRemainingMs = options.minRemainingMs ?? 5000;

  // The whole trace once (a resume needs the position of its id in it), then only what comes after.
  let pending = (await source.traceItemsAfter(runId, {})).sort(order);
  let cursor = advance({}, pending);
  const resumeAt = options.lastEventId ? pending.find((i) => i.sk === options.lastEventId) : undefined;
  if (resumeAt) pending = pending.filter((i) => order(i, resumeAt) > 0);
  let lastWrite = now();
  let wait = pollMs;
  for (;;) {
    if (options.signal?.aborted) return 'closed';
    const run = await source.getRun(runId);
    if (!run) return 'gone';
    const fresh = await source.traceItemsAfter(runId, cursor);
    cursor = advance(cursor, fresh);
    if (fresh.length) pending = [...pending, ...fresh].sort(order);
    // Ended: the status is final and nothing was written for settleMs (the last events follow the status change).
    const quietSince = Math.max(time(run.updatedAt), ...pending.map((i) => time(i.event.at)));
    const ended = TERMINAL_STATUSES.includes(run.status) && fresh.length === 0 && now() - quietSince >= settleMs;
    const cutoff = ended ? Number.POSITIVE_INFINITY : now() - settleMs;
    const ready = pending.filter((i) => time(i.event.at) <= cutoff);
    if (ready.length) {
      pending = pending.slice(ready.length);
      for (const item of ready) await write(eventFrame(item));
      lastWrite = now();
    }
    if (ended) {
      await write(endFrame(run));
      return 'end';
    }
    if (now() - lastWrite >= keepAliveMs) {
      await write(KEEP_ALIVE_FRAME);
      lastWrite = now();
    }
    if (options.remainingMs() <= minRemainingMs) return 'deadline';
    wait = fresh.length || pending.length ? pollMs : Math.min(wait * 2, maxPollMs);
    await sleep(Math.min(wait, Math.max(0, options.remainingMs() - minRemainingMs)));
    if (options.signal?.aborted) return 'closed';
  }
}
