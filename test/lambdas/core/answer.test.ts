import { degradationNotice, partialAnswer, surrenderNotice } from '../../../lambdas/core/answer';
import type { Message } from '../../../lambdas/core/types';

describe('partial answers', () => {
  it('uses the final text when the model gave one', () => {
    expect(
      partialAnswer([
        { role: 'user', content: 'q' },
        { role: 'assistant', content: 'done: 42', toolCalls: [] },
      ]),
    ).toBe('done: 42');
  });
  it('summarises the tool results when the last turn was a tool call', () => {
    const messages: Message[] = [
      { role: 'user', content: 'q' },
      { role: 'assistant', content: 'let me check', toolCalls: [{ id: 'a', name: 'calculator', arguments: {} }] },
      { role: 'tool', toolCallId: 'a', name: 'calculator', content: '435' },
      { role: 'assistant', content: 'checking more', toolCalls: [{ id: 'b', name: 'search_docs', arguments: {} }] },
    ];
    expect(partialAnswer(messages)).toBe('Here is what I found before stopping:\n- calculator: 435');
  });
  it('says so when there is nothing', () => {
    expect(partialAnswer([{ role: 'user', content: 'q' }])).toBe('I have no partial results to share.');
  });
});

describe('notices', () => {
  it('says why the agent stopped', () => {
    expect(surrenderNotice('STEP_BUDGET', 3)).toContain('after 3 steps');
    expect(surrenderNotice('REPETITION', 2)).toContain('repeat the same tool call');
    expect(surrenderNotice('APPROVAL_EXPIRED', 1)).toContain('not approved or rejected in time');
    expect(surrenderNotice('TOKEN_BUDGET', 2)).toContain('token budget');
  });
  it('tells the user what degraded and what answered instead', () => {
    expect(degradationNotice([{ dependency: 'model:primary', reason: 'TransientError', fallback: 'model:fallback' }])).toBe(
      'Note: the primary model was unavailable (TransientError); a smaller fallback model answered, so this answer may be less polished.',
    );
    expect(degradationNotice([])).toBe('');
  });
  it('says when the cheaper model answered because of the daily spend, and why a run stopped on dollars', () => {
    expect(degradationNotice([{ dependency: 'model:primary', reason: 'SPEND_FALLBACK', fallback: 'model:fallback' }])).toContain('daily spend is near its limit');
    expect(surrenderNotice('COST_BUDGET', 3)).toContain('cost budget');
    expect(surrenderNotice('SPEND_LIMIT', 3)).toContain('midnight UTC');
  });
});
