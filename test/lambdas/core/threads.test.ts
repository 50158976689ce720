import type { RunRecord, StoredMessage } from '../../../lambdas/core/ports';
import { newThreadId, threadHistory, turnOf } from '../../../lambdas/core/threads';
import type { Message } from '../../../lambdas/core/types';

const user = (content: string): Message => ({ role: 'user', content });
const said = (content: string, calls: string[] = []): Message => ({ role: 'assistant', content, toolCalls: calls.map((id) => ({ id, name: 'calculator', arguments: {} })) });
const result = (id: string): Message => ({ role: 'tool', toolCallId: id, name: 'calculator', content: '4' });

describe('a thread run’s history', () => {
  it('keeps an earlier run up to its final answer, so every tool call has its result', () => {
    const messages = [user('2+2?'), said('', ['c1']), result('c1'), said('4'), said('', ['c2'])];
    expect(turnOf(messages, '4')).toEqual(messages.slice(0, 4));
  });

  it('an earlier run that ended without an answer message is its question and its final text', () => {
    expect(turnOf([user('explore'), said('', ['c1']), result('c1')], 'Stopped: step budget.')).toEqual([user('explore'), said('Stopped: step budget.')]);
    expect(turnOf([user('explore')], null)).toEqual([user('explore'), said('The run ended without an answer.')]);
  });

  it('reads the earlier runs in order from their own items, skipping erased and unfinished ones', async () => {
    const record = (runId: string, status: RunRecord['status'], answer: string | null) => ({ runId, status, answer }) as RunRecord;
    const runsById: Record<string, RunRecord> = { a: record('a', 'SUCCEEDED', 'A'), b: record('b', 'RUNNING', null), c: record('c', 'CANCELLED', 'cancelled') };
    const messagesById: Record<string, Message[]> = { a: [user('first'), said('A')], b: [user('second')], c: [user('third')] };
    const read: string[] = [];
    const runs = {
      getRun: async (id: string) => runsById[id],
      listMessages: async (id: string) => {
        read.push(id);
        return (messagesById[id] ?? []).map((message, seq) => ({ step: 0, seq, message, at: '' }) as StoredMessage);
      },
    };
    const history = await threadHistory(runs, { history: ['a', 'gone', 'b', 'c'] } as RunRecord);
    expect(history).toEqual([user('first'), said('A'), user('third'), said('cancelled')]);
    expect(read).toEqual(['a', 'c']);
    expect(await threadHistory(runs, {} as RunRecord)).toEqual([]);
  });
});

describe('thread ids', () => {
  it('sort by creation time and hold letters and digits only', () => {
    const older = newThreadId(new Date('2026-01-01T00:00:00Z'), () => 'ffffffff-ffff');
    const newer = newThreadId(new Date('2026-01-01T00:00:00.001Z'), () => '00000000-0000');
    expect(older < newer).toBe(true);
    expect(newer).toMatch(/^[a-z0-9]+$/);
  });
});
