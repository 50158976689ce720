import { judgeAnswer, judgeVerdict } from '../../../lambdas/core/eval-judge';
import type { ModelProvider } from '../../../lambdas/core/types';

describe('the judge', () => {
  const model = (text: string | Error): ModelProvider => ({
    provider: 'openai',
    model: 'gpt-4o-mini',
    complete: async () => {
      if (text instanceof Error) throw text;
      return { text, toolCalls: [], usage: { inputTokens: 1_000_000, outputTokens: 100_000 }, finishReason: 'stop', model: 'gpt-4o-mini' };
    },
  });
  const price = { inputPerMTokUsd: 0.15, outputPerMTokUsd: 0.6 };

  it('reads PASS/FAIL from the first word and prices the call', async () => {
    expect(judgeVerdict('PASS: it names the capital')).toEqual({ passed: true, reason: 'it names the capital' });
    expect(judgeVerdict('**FAIL** - wrong city')).toEqual({ passed: false, reason: 'wrong city' });
    expect(judgeVerdict('Maybe?').passed).toBe(false);
    const verdict = await judgeAnswer(model('PASS\nIt answers 42.'), price, { rubric: 'says 42', input: 'q', answer: '42' });
    expect(verdict).toEqual({ passed: true, reason: 'It answers 42.', usage: { inputTokens: 1_000_000, outputTokens: 100_000 }, costUsd: 0.21 });
  });

  it('fails a case whose judge cannot be asked, saying why', async () => {
    expect(await judgeAnswer(model(Object.assign(new Error('down'), { name: 'TransientError' })), price, { rubric: 'r', input: 'q', answer: null })).toMatchObject({
      passed: false,
      reason: 'the judge could not be asked (TransientError: down)',
      costUsd: 0,
    });
  });
});
