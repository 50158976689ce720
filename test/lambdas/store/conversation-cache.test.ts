import type { StoredMessage } from '../../../lambdas/core/ports';
import { ConversationCache, gaplessLength } from '../../../lambdas/store/conversation-cache';
import { RunStore } from '../../../lambdas/store/run-store';
import { dynamoWithAgentTable } from '../../helpers/dynamo';

const at = '2026-01-01T00:00:00.000Z';
const user = (): StoredMessage => ({ step: 0, seq: 0, message: { role: 'user', content: 'go' }, at });
const assistant = (step: number, calls: number): StoredMessage => ({
  step,
  seq: 0,
  message: { role: 'assistant', content: '', toolCalls: Array.from({ length: calls }, (_, i) => ({ id: `c${step}-${i}`, name: 't', arguments: {} })) },
  at,
});
const tool = (step: number, seq: number, content = `out ${step}.${seq}`): StoredMessage => ({
  step,
  seq,
  message: { role: 'tool', toolCallId: `c${step}-${seq - 1}`, name: 't', content },
  at,
});

describe('gaplessLength', () => {
  it('accepts a conversation whose every message follows the previous one', () => {
    expect(gaplessLength([user(), assistant(1, 2), tool(1, 1), tool(1, 2), assistant(2, 0)])).toBe(5);
  });

  it('stops at a missing tool result, at an incomplete step followed by the next, and at a missing start', () => {
    expect(gaplessLength([user(), assistant(1, 2), tool(1, 2)])).toBe(2);
    expect(gaplessLength([user(), assistant(1, 2), tool(1, 1), assistant(2, 0)])).toBe(3);
    expect(gaplessLength([assistant(1, 0)])).toBe(0);
  });
});

describe('ConversationCache', () => {
  it('merges a read that continues the kept prefix and refuses one with a gap', () => {
    const cache = new ConversationCache();
    cache.set('r', [user(), assistant(1, 1), tool(1, 1)]);
    expect(cache.extend('r', cache.get('r'), [assistant(2, 2), tool(2, 1)])).toHaveLength(5);
    // (2, 2) missing: what follows could hide it.
    expect(cache.extend('r', cache.get('r'), [assistant(3, 0)])).toBeUndefined();
  });

  it('keeps at most maxRuns runs, least recently used out', () => {
    const cache = new ConversationCache(2);
    cache.set('a', [user()]);
    cache.set('b', [user()]);
    cache.get('a');
    cache.set('c', [user()]);
    expect(cache.get('b')).toEqual([]);
    expect(cache.get('a')).toHaveLength(1);
  });
});

describe('RunStore.listMessages in a warm container (dynalite)', () => {
  let dynamo: Awaited<ReturnType<typeof dynamoWithAgentTable>>;
  beforeAll(async () => {
    dynamo = await dynamoWithAgentTable('ConversationCacheTable');
  });
  afterAll(async () => {
    await dynamo?.close();
  });

  /** Counts the messages each Query returns. */
  function countingStore() {
    const returned: number[] = [];
    dynamo.doc.middlewareStack.add(
      (next, context) => async (args) => {
        const out = await next(args);
        if ((context as { commandName?: string }).commandName === 'QueryCommand') returned.push(((out.output as { Items?: unknown[] }).Items ?? []).length);
        return out;
      },
      { step: 'initialize', name: `count-${Math.random()}` },
    );
    return returned;
  }

  it('reads only the messages after the last one it saw, and the result equals a cold read', async () => {
    const returned = countingStore();
    const warm = new RunStore(dynamo.doc, dynamo.tableName);
    const runId = 'cache-warm';
    await warm.putMessage(runId, user());
    await warm.putMessage(runId, assistant(1, 1));
    await warm.putMessage(runId, tool(1, 1));
    expect(await warm.listMessages(runId)).toHaveLength(3);
    await warm.putMessage(runId, assistant(2, 1));
    await warm.putMessage(runId, tool(2, 1));
    returned.length = 0;
    const second = await warm.listMessages(runId);
    expect(returned).toEqual([2]);
    expect(second).toEqual(await new RunStore(dynamo.doc, dynamo.tableName).listMessages(runId));
  });

  it('a message written behind the last one seen (a gap) is never missed: the store reads the whole conversation again', async () => {
    const warm = new RunStore(dynamo.doc, dynamo.tableName);
    const other = new RunStore(dynamo.doc, dynamo.tableName);
    const runId = 'cache-gap';
    await other.putMessage(runId, user());
    await other.putMessage(runId, assistant(1, 2));
    // The second tool result lands before the first (parallel tool calls): the warm reader sees a gap.
    await other.putMessage(runId, tool(1, 2));
    expect((await warm.listMessages(runId)).map((m) => m.seq)).toEqual([0, 0, 2]);
    await other.putMessage(runId, tool(1, 1));
    await other.putMessage(runId, assistant(2, 0));
    const returned = countingStore();
    const after = await warm.listMessages(runId);
    expect(after.map((m) => [m.step, m.seq])).toEqual([
      [0, 0],
      [1, 0],
      [1, 1],
      [1, 2],
      [2, 0],
    ]);
    // Only the gapless prefix (up to (1, 0)) was kept, so the read started after it.
    expect(returned).toEqual([3]);
  });
});
