import type { RunRecord, StoredMessage } from '../../../lambdas/core/ports';
import { newThreadId, threadConversation, turnOf } from '../../../lambdas/core/threads';
import type { Message } from '../../../lambdas/core/types';

const user = (content: string): Message => ({ role: 'user', content });
const said = (content: string, calls: string[] = []): Message => ({ role: 'assistant', content, toolCalls: calls.map((id) => ({ id, name: 'calculator', arguments: {} })) });
const result = (id: string): Message => ({ role: 'tool', toolCallId: id, name: 'calculator', content: '4' });
const stored = (messages: Message[]): StoredMessage[] => messages.map((message, i) => ({ step: i, seq: 0, message, at: `t${i}` }));
const ended = { answer: 'final text', updatedAt: 'end' };

describe('a thread run’s conversation', () => {
  it('keeps an earlier run up to its final answer, so every tool call has its result', () => {
    const messages = stored([user('2+2?'), said('', ['c1']), result('c1'), said('4'), said('', ['c2'])]);
    expect(turnOf(messages, ended).map((m) => m.message)).toEqual([user('2+2?'), said('', ['c1']), result('c1'), said('4')]);
  });

  it('an earlier run that ended without an answer message is its question and its final text', () => {
    expect(turnOf(stored([user('explore'), said('', ['c1']), result('c1')]), ended).map((m) => m.message)).toEqual([user('explore'), said('final text')]);
    expect(turnOf(stored([user('explore')]), { answer: null, updatedAt: 'end' }).map((m) => m.message)).toEqual([user('explore'), said('The run ended without an answer.')]);
  });

  it('reads the earlier runs in order from their own items (as step 0, before its own), skipping erased and unfinished ones', async () => {
    const record = (runId: string, status: RunRecord['status'], answer: string | null) => ({ runId, status, answer, updatedAt: 'end' }) as RunRecord;
    const runsById: Record<string, RunRecord> = { a: record('a', 'SUCCEEDED', 'A'), b: record('b', 'RUNNING', null), c: record('c', 'CANCELLED', 'cancelled') };
    const messagesById: Record<string, Message[]> = { a: [user('first'), said('A')], b: [user('second')], c: [user('third')], me: [user('now')] };
    const read: string[] = [];
    const runs = {
      getRun: async (id: string) => runsById[id],
      listMessages: async (id: string) => {
        read.push(id);
        return stored(messagesById[id] ?? []);
      },
    };
    const conversation = await threadConversation(runs)({ runId: 'me', history: ['a', 'gone', 'b', 'c'] } as RunRecord);
    expect(conversation.map((m) => m.message)).toEqual([user('first'), said('A'), user('third'), said('cancelled'), user('now')]);
    expect(conversation.slice(0, 4).map((m) => [m.step, m.seq])).toEqual([
      [0, 0],
      [0, 1],
      [0, 2],
      [0, 3],
    ]);
    expect(read).toEqual(['me', 'a', 'c']);
    // A lone run: its own messages only.
    expect((await threadConversation(runs)({ runId: 'me' } as RunRecord)).map((m) => m.message)).toEqual([user('now')]);
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
