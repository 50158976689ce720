import { MAX_THREAD_QUEUE } from '../../../lambdas/core/threads';
import { RunItems } from '../../../lambdas/store/run-erase';
import { RunStore } from '../../../lambdas/store/run-store';
import { ThreadStore } from '../../../lambdas/store/thread-store';
import { dynamoWithAgentTable } from '../../helpers/dynamo';

describe('ThreadStore (dynalite): one active run per thread as conditional writes on the thread item', () => {
  let dynamo: Awaited<ReturnType<typeof dynamoWithAgentTable>>;
  let threads: ThreadStore;
  let runs: RunStore;
  let items: RunItems;
  let n = 0;
  const fresh = async (owner = 'alice') => threads.createThread({ threadId: `t${++n}`, owner, title: null });

  beforeAll(async () => {
    dynamo = await dynamoWithAgentTable();
    threads = new ThreadStore(dynamo.doc, dynamo.tableName);
    runs = new RunStore(dynamo.doc, dynamo.tableName);
    items = new RunItems(dynamo.doc, dynamo.tableName);
  });
  afterAll(() => dynamo.close());

  it('takes the lock once: a second acquire fails until the active run is replaced by name', async () => {
    const t = await fresh();
    expect((await threads.acquire('alice', t.threadId, 'r1'))?.runIds).toEqual(['r1']);
    expect(await threads.acquire('alice', t.threadId, 'r2')).toBeUndefined();
    expect(await threads.acquire('alice', t.threadId, 'r2', 'other')).toBeUndefined();
    expect(await threads.acquire('alice', t.threadId, 'r2', 'r1')).toMatchObject({ activeRunId: 'r2', runIds: ['r1', 'r2'] });
  });

  it("another user's key never reaches the thread", async () => {
    const t = await fresh('alice');
    expect(await threads.getThread('bob', t.threadId)).toBeUndefined();
    expect(await threads.acquire('bob', t.threadId, 'r1')).toBeUndefined();
  });

  it('queues behind the active run only, up to the limit, and advances in order', async () => {
    const t = await fresh();
    await threads.acquire('alice', t.threadId, 'a');
    const entry = (runId: string) => ({ runId, input: runId, queuedAt: new Date().toISOString() });
    expect(await threads.enqueue('alice', t.threadId, entry('q0'), 'not-active')).toBeUndefined();
    for (let i = 0; i < MAX_THREAD_QUEUE; i++) expect(await threads.enqueue('alice', t.threadId, entry(`q${i}`), 'a')).toBeDefined();
    expect(await threads.enqueue('alice', t.threadId, entry('over'), 'a')).toBeUndefined();
    // Only the active run's end advances; a stale or repeated end changes nothing.
    expect(await threads.advance('alice', t.threadId, 'someone-else')).toBeUndefined();
    const first = await threads.advance('alice', t.threadId, 'a');
    expect(first?.next?.runId).toBe('q0');
    expect(first?.thread).toMatchObject({ activeRunId: 'q0', runIds: ['a', 'q0'] });
    expect(await threads.advance('alice', t.threadId, 'a')).toBeUndefined();
    for (let i = 1; i < MAX_THREAD_QUEUE; i++) expect((await threads.advance('alice', t.threadId, `q${i - 1}`))?.next?.runId).toBe(`q${i}`);
    const released = await threads.advance('alice', t.threadId, `q${MAX_THREAD_QUEUE - 1}`);
    expect(released?.next).toBeUndefined();
    expect(released?.thread.activeRunId).toBeUndefined();
    expect(released?.thread.queue).toEqual([]);
  });

  it('drops a queued run from the middle of the queue; never one that started, nor from a thread being deleted', async () => {
    const t = await fresh();
    await threads.acquire('alice', t.threadId, 'a');
    const entry = (runId: string) => ({ runId, input: runId, queuedAt: new Date().toISOString() });
    for (const id of ['q0', 'q1', 'q2']) await threads.enqueue('alice', t.threadId, entry(id), 'a');
    expect((await threads.dequeue('alice', t.threadId, 'q1'))?.queue.map((q) => q.runId)).toEqual(['q0', 'q2']);
    expect(await threads.dequeue('alice', t.threadId, 'q1')).toBeUndefined();
    expect(await threads.dequeue('alice', t.threadId, 'a')).toBeUndefined();
    expect(await threads.dequeue('bob', t.threadId, 'q0')).toBeUndefined();
    // The head started: it is no longer queued, and the next end starts the run behind it.
    expect((await threads.advance('alice', t.threadId, 'a'))?.next?.runId).toBe('q0');
    expect(await threads.dequeue('alice', t.threadId, 'q0')).toBeUndefined();
    expect((await threads.advance('alice', t.threadId, 'q0'))?.next?.runId).toBe('q2');
    const other = await fresh();
    await threads.acquire('alice', other.threadId, 'b');
    await threads.enqueue('alice', other.threadId, entry('w'), 'b');
    await threads.markDeleting('alice', other.threadId);
    expect(await threads.dequeue('alice', other.threadId, 'w')).toBeUndefined();
  });

  it('a thread being deleted takes no run and queues none', async () => {
    const t = await fresh();
    await threads.markDeleting('alice', t.threadId);
    expect(await threads.acquire('alice', t.threadId, 'r1')).toBeUndefined();
    expect(await threads.markDeleting('alice', 'missing')).toBeUndefined();
  });

  it('lists a user’s threads newest first, paging with a cursor that is theirs only', async () => {
    const a = await threads.createThread({ threadId: '000000001aaa', owner: 'carol', title: 'old' });
    const b = await threads.createThread({ threadId: '000000002bbb', owner: 'carol', title: 'new' });
    const page = await threads.listThreads('carol', { limit: 1 });
    expect(page.threads.map((t) => t.threadId)).toEqual([b.threadId]);
    const next = await threads.listThreads('carol', { limit: 1, cursor: page.nextCursor ?? undefined });
    expect(next.threads.map((t) => t.threadId)).toEqual([a.threadId]);
    await expect(threads.listThreads('dave', { cursor: page.nextCursor ?? undefined })).rejects.toThrow('invalid cursor');
  });

  it('RunItems.eraseRun deletes every item of a run and nothing else', async () => {
    await runs.createRun({ runId: 'gone', userId: 'alice', input: 'hello', maxSteps: 5, maxTokens: 1000, threadId: 't', history: [] });
    await runs.createRun({ runId: 'kept', userId: 'alice', input: 'hello', maxSteps: 5, maxTokens: 1000 });
    for (let i = 0; i < 30; i++) await runs.appendEvent('gone', { type: 'pause_requested', step: i } as never);
    expect(await items.eraseRun('gone')).toBe(32);
    expect(await runs.getRun('gone')).toBeUndefined();
    expect(await runs.listMessages('gone')).toEqual([]);
    expect(await items.eraseRun('gone')).toBe(0);
    expect(await runs.getRun('kept')).toBeDefined();
  });
});
