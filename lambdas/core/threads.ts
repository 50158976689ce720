import type { Budgets } from './budget';
import { Conflict, ThreadBusy } from './errors';
import type { OutputSpec } from './output';
import type { ApiRunRepository, RunControl, RunRecord, RunRepository, StoredMessage } from './ports';
import { type RunStarter, startRun } from './start-run';
import { type Message, TERMINAL_STATUSES } from './types';

/**
 * Threads (docs/threads.md): a conversation of runs. A thread item lists its runs in order; a thread run's prompt is
 * the earlier runs' messages, read from their own items (referenced, never copied), then its own. One run of a
 * thread is active at a time: a conditional write on the thread item (`activeRunId` absent, or naming a run that has
 * ended); `enqueue` keeps a small queue on the same item, started when the active run ends.
 */

/** What a second run on a busy thread does: 409 THREAD_BUSY, wait its turn, or cancel the active run first. */
export const MULTITASK = ['reject', 'enqueue', 'interrupt'] as const;
export type Multitask = (typeof MULTITASK)[number];

/** Runs a thread may hold (its item lists them; each later run reads them all as its history). */
export const MAX_THREAD_RUNS = 100;
/** Runs waiting on one thread. */
export const MAX_THREAD_QUEUE = 5;
/** Longest thread title, in characters. */
export const MAX_TITLE_CHARS = 200;

/** A run waiting for the thread's active run to end (kept on the thread item). */
export interface QueuedRun {
  runId: string;
  input: string;
  budgets?: Partial<Budgets>;
  outputSchema?: OutputSpec;
  queuedAt: string;
}

/** The thread item. */
export interface ThreadRecord {
  threadId: string;
  /** The user who owns it (the caller's verified id). */
  owner: string;
  title: string | null;
  createdAt: string;
  updatedAt: string;
  /** Started runs, oldest first. */
  runIds: string[];
  activeRunId?: string;
  queue: QueuedRun[];
  /** Set by DELETE /threads/{id} before it erases anything: no run starts on it any more. */
  deleting?: boolean;
}

/** A page of a user's threads, newest first. */
export interface ThreadPage {
  threads: ThreadRecord[];
  nextCursor: string | null;
}

/** The thread items in the table (implemented by lambdas/store/thread-store.ts). Every change is one conditional write. */
export interface ThreadRepository {
  createThread(thread: { threadId: string; owner: string; title: string | null }): Promise<ThreadRecord>;
  getThread(owner: string, threadId: string): Promise<ThreadRecord | undefined>;
  listThreads(owner: string, options?: { limit?: number; cursor?: string }): Promise<ThreadPage>;
  /**
   * Makes `runId` the active run and appends it to the runs, when the thread has no active run (or its active run is
   * `replacing`), is not being deleted and has room. The thread after the write, or undefined when the condition failed.
   */
  acquire(owner: string, threadId: string, runId: string, replacing?: string): Promise<ThreadRecord | undefined>;
  /** Appends to the queue while `activeRunId` is still `whileActive` and the queue has room; undefined otherwise. */
  enqueue(owner: string, threadId: string, entry: QueuedRun, whileActive: string): Promise<ThreadRecord | undefined>;
  /**
   * The active run `endedRunId` ended: the queue's head becomes the active run (and is returned), or the thread is
   * released. Undefined when `endedRunId` is not the active run (already advanced, or interrupted).
   */
  advance(owner: string, threadId: string, endedRunId: string): Promise<{ thread: ThreadRecord; next?: QueuedRun } | undefined>;
  /**
   * Removes the queued run `runId` before it starts (one conditional write: only while it is still in the queue and
   * the thread is not being deleted). The thread after the write, or undefined when the run is not queued there.
   */
  dequeue(owner: string, threadId: string, runId: string): Promise<ThreadRecord | undefined>;
  /** Marks the thread as being deleted (no run starts on it from then on); the thread as it was, or undefined. */
  markDeleting(owner: string, threadId: string): Promise<ThreadRecord | undefined>;
  deleteThread(owner: string, threadId: string): Promise<void>;
}

/** What erasing needs from the run store: every item of a run (run, messages, trace events, checkpoints). */
export interface RunEraser {
  eraseRun(runId: string): Promise<number>;
}

/** A new, time-ordered thread id: a user's threads list newest first by it. Letters and digits only. */
export function newThreadId(now: Date = new Date(), random: () => string = () => crypto.randomUUID()): string {
  return `${now.getTime().toString(36).padStart(9, '0')}${random().replace(/-/g, '').slice(0, 12)}`;
}

export interface ThreadRunDeps {
  runs: RunStarter & Pick<RunRepository, 'getRun'>;
  threads: ThreadRepository;
  control: Pick<RunControl, 'start' | 'cancel'>;
  budgets: Budgets;
  newRunId?: () => string;
  now?: () => Date;
}

export interface NewThreadRun {
  userId: string;
  threadId: string;
  input: string;
  budgets?: Partial<Budgets>;
  idempotencyKey?: string;
  multitask?: Multitask;
  outputSchema?: OutputSpec;
}

/** Attempts at the thread's conditional write before giving up (each failed attempt means the thread just changed). */
const MAX_ATTEMPTS = 5;

const ended = (run: RunRecord | undefined) => !run || TERMINAL_STATUSES.includes(run.status);

/**
 * POST /threads/{id}/runs: a run on the thread through the one start path (lambdas/core/start-run.ts: budgets, the
 * Idempotency-Key, the record, the execution), after it has the thread's lock. A busy thread: `reject` → ThreadBusy;
 * `enqueue` → queued (the run starts when the active one ends; `queued: true`); `interrupt` → the active run is
 * cancelled first.
 */
export async function startThreadRun(deps: ThreadRunDeps, req: NewThreadRun): Promise<{ runId: string; threadId: string; replayed: boolean; queued: boolean }> {
  const { userId, threadId } = req;
  const multitask = req.multitask ?? 'reject';
  const out = await startRun(
    { runs: deps.runs, control: deps.control, budgets: deps.budgets, newRunId: deps.newRunId },
    {
      userId,
      input: req.input,
      budgets: req.budgets,
      idempotencyKey: req.idempotencyKey,
      ...(req.outputSchema ? { outputSchema: req.outputSchema } : {}),
      threadId,
      admit: async (runId) => {
        for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
          const thread = await deps.threads.getThread(userId, threadId);
          if (!thread || thread.deleting) throw new Conflict(`thread ${threadId} is being deleted`);
          // A replayed key whose run is not written yet: still queued, or admitted by a request that died before
          // writing it (the run is written now, with the history it was admitted with).
          if (thread.queue.some((q) => q.runId === runId)) return { start: false };
          const at = thread.runIds.indexOf(runId);
          if (at >= 0) return { start: true, thread: { threadId, history: thread.runIds.slice(0, at) } };
          if (thread.runIds.length >= MAX_THREAD_RUNS) throw new Conflict(`thread ${threadId} has ${MAX_THREAD_RUNS} runs, the most a thread holds; start a new thread`);
          const active = thread.activeRunId;
          const activeRun = active ? await deps.runs.getRun(active) : undefined;
          if (!active || ended(activeRun)) {
            const taken = await deps.threads.acquire(userId, threadId, runId, active);
            if (taken) return { start: true, thread: { threadId, history: taken.runIds.slice(0, -1) } };
            continue;
          }
          if (multitask === 'reject') {
            throw new ThreadBusy(
              `thread ${threadId} has an active run (${active}, ${activeRun?.status}); send "multitask": "enqueue" to run after it, or "interrupt" to cancel it first`,
            );
          }
          if (multitask === 'enqueue') {
            if (thread.queue.length >= MAX_THREAD_QUEUE)
              throw new ThreadBusy(`thread ${threadId} already has ${MAX_THREAD_QUEUE} runs waiting, the most it queues; retry when one has started`);
            const entry: QueuedRun = {
              runId,
              input: req.input,
              ...(req.budgets ? { budgets: req.budgets } : {}),
              ...(req.outputSchema ? { outputSchema: req.outputSchema } : {}),
              queuedAt: (deps.now?.() ?? new Date()).toISOString(),
            };
            if (await deps.threads.enqueue(userId, threadId, entry, active)) return { start: false };
            continue;
          }
          try {
            await deps.control.cancel(active);
          } catch (err) {
            // Ended on its own meanwhile: the lock is free to take over.
            if (!(err instanceof Conflict)) throw err;
          }
          const taken = await deps.threads.acquire(userId, threadId, runId, active);
          if (taken) return { start: true, thread: { threadId, history: taken.runIds.slice(0, -1) } };
        }
        throw new ThreadBusy(`thread ${threadId} changed ${MAX_ATTEMPTS} times while the run was being started; retry the request`);
      },
    },
  );
  return { runId: out.runId, threadId, replayed: out.replayed, queued: out.queued };
}

/**
 * A thread run ended (the execution-status handler calls this for every execution that ends): the thread's next
 * queued run starts, or the thread is released. Does nothing for a lone run, a run still going, or a run that is no
 * longer the thread's active one. A queued run that cannot start ends FAILED (START_FAILED) and the next one is tried.
 */
export async function advanceThread(deps: ThreadRunDeps, run: RunRecord): Promise<{ started?: string }> {
  let current: RunRecord | undefined = run;
  for (let i = 0; i <= MAX_THREAD_QUEUE && current?.threadId && ended(current); i++) {
    const moved = await deps.threads.advance(current.userId, current.threadId, current.runId);
    if (!moved?.next) return {};
    const { next, thread } = moved;
    try {
      await startRun(
        { runs: deps.runs, control: deps.control, budgets: deps.budgets },
        {
          runId: next.runId,
          userId: current.userId,
          input: next.input,
          budgets: next.budgets,
          ...(next.outputSchema ? { outputSchema: next.outputSchema } : {}),
          admit: async () => ({ start: true, thread: { threadId: thread.threadId, history: thread.runIds.slice(0, -1) } }),
        },
      );
      return { started: next.runId };
    } catch (err) {
      if ((err as Error).name !== 'StartFailed') throw err;
      current = await deps.runs.getRun(next.runId);
    }
  }
  return {};
}

/** A thread as GET /threads/{id} shows it: its runs (oldest first), the queue, and the usage summed over its runs. */
export function threadView(
  thread: ThreadRecord,
  runs: (RunRecord | undefined)[],
  runView: (run: RunRecord) => unknown & { usage: { inputTokens: number; outputTokens: number; costUsd: number } },
) {
  const views = runs.filter((r): r is RunRecord => r !== undefined).map(runView);
  const sum = (f: (u: { inputTokens: number; outputTokens: number; costUsd: number }) => number) => views.reduce((n, v) => n + f(v.usage), 0);
  return {
    threadId: thread.threadId,
    title: thread.title,
    createdAt: thread.createdAt,
    updatedAt: thread.updatedAt,
    activeRunId: thread.activeRunId ?? null,
    runs: views,
    queued: thread.queue.map((q) => ({ runId: q.runId, input: q.input, queuedAt: q.queuedAt })),
    usage: { inputTokens: sum((u) => u.inputTokens), outputTokens: sum((u) => u.outputTokens), costUsd: Math.round(sum((u) => u.costUsd) * 1e6) / 1e6 },
  };
}

/**
 * Where a run's conversation comes from (LoopDeps.history, which context compaction applies its view to): a lone
 * run's own messages; for a thread run, first each earlier run of the thread (in order) as its question and its
 * exchange up to its final answer, read from that run's own items (referenced, never copied), then its own. The
 * earlier runs' messages come as step 0 (before this run's first step), so compaction elides their tool results
 * first and never mistakes them for this run's steps.
 */
export function threadConversation(runs: Pick<RunRepository, 'getRun' | 'listMessages'>): (run: RunRecord) => Promise<StoredMessage[]> {
  return async (run) => {
    const own = await runs.listMessages(run.runId);
    if (!run.history?.length) return own;
    const turns: StoredMessage[][] = [];
    for (const runId of run.history.slice(-MAX_THREAD_RUNS)) {
      const before = await runs.getRun(runId);
      // An erased run (or one still being written) is no part of the history.
      if (!before || !TERMINAL_STATUSES.includes(before.status)) continue;
      turns.push(turnOf(await runs.listMessages(runId), before));
    }
    return [...earlierTurns(turns), ...own];
  };
}

/** The earlier runs' turns (oldest first) as one history: all at step 0, numbered in order, before the run's own. */
export function earlierTurns(turns: StoredMessage[][]): StoredMessage[] {
  return turns.flat().map((m, seq) => ({ ...m, step: 0, seq }));
}

/**
 * One earlier run as a well-formed exchange: its messages up to its last answer with no tool calls (so every tool
 * call has its result, as the providers require); a run that ended without one (a budget, a cancel) is its question
 * and its final answer text.
 */
export function turnOf(messages: StoredMessage[], run: Pick<RunRecord, 'answer' | 'updatedAt'>): StoredMessage[] {
  const last = messages.findLastIndex((m) => m.message.role === 'assistant' && m.message.toolCalls.length === 0);
  if (last >= 0) return messages.slice(0, last + 1).map(({ event: _event, ...m }) => m);
  const question = messages.find((m) => m.message.role === 'user');
  if (!question) return [];
  const answer: Message = { role: 'assistant', content: run.answer ?? 'The run ended without an answer.', toolCalls: [] };
  return [
    { step: question.step, seq: question.seq, message: question.message, at: question.at },
    { step: 1, seq: 0, message: answer, at: run.updatedAt },
  ];
}

export interface EraseDeps {
  runs: RunEraser & Pick<RunRepository, 'getRun'>;
  threads: ThreadRepository;
  control: Pick<RunControl, 'cancel'>;
}

/** Stops a run that is still going, then deletes every item of it. */
async function eraseOne(deps: EraseDeps, runId: string): Promise<number> {
  const run = await deps.runs.getRun(runId);
  if (run && !ended(run)) {
    try {
      await deps.control.cancel(runId);
    } catch (err) {
      if (!(err instanceof Conflict)) throw err;
    }
  }
  return deps.runs.eraseRun(runId);
}

/**
 * DELETE /threads/{id}: the thread stops taking runs, its active run is cancelled, and every item of its runs (the
 * run, messages, trace events, checkpoints) and then the thread item are deleted. A retry finishes a cut-short erase.
 */
export async function eraseThread(deps: EraseDeps, owner: string, threadId: string): Promise<{ runs: number; items: number } | undefined> {
  const thread = await deps.threads.markDeleting(owner, threadId);
  if (!thread) return undefined;
  const runIds = [...thread.runIds, ...thread.queue.map((q) => q.runId)];
  let items = 0;
  for (const runId of runIds) items += await eraseOne(deps, runId);
  await deps.threads.deleteThread(owner, threadId);
  return { runs: runIds.length, items: items + 1 };
}

/** Pages read when erasing a user (each page up to 100 runs or threads). */
const MAX_ERASE_PAGES = 1000;

/**
 * DELETE /admin/users/{userId}: every thread and every run of the user, erased as above, page by page. Spend
 * counters stay (they are billing).
 */
export async function eraseUser(
  deps: EraseDeps & { runs: EraseDeps['runs'] & Pick<ApiRunRepository, 'listRunsByUser'> },
  userId: string,
): Promise<{ threads: number; runs: number }> {
  let threads = 0;
  let runs = 0;
  let cursor: string | undefined;
  for (let page = 0; page < MAX_ERASE_PAGES; page++) {
    const batch = await deps.threads.listThreads(userId, { limit: 100, cursor });
    for (const t of batch.threads) {
      const erased = await eraseThread(deps, userId, t.threadId);
      threads += 1;
      runs += erased?.runs ?? 0;
    }
    if (!batch.nextCursor) break;
    cursor = batch.nextCursor;
  }
  cursor = undefined;
  for (let page = 0; page < MAX_ERASE_PAGES; page++) {
    const batch = await deps.runs.listRunsByUser(userId, { limit: 100, cursor });
    for (const r of batch.runs) {
      // The user index is eventually consistent: a run already erased (a thread's) may still be listed.
      if (r.userId !== userId) continue;
      if ((await eraseOne(deps, r.runId)) === 0) continue;
      runs += 1;
    }
    if (!batch.nextCursor) break;
    cursor = batch.nextCursor;
  }
  return { threads, runs };
}
