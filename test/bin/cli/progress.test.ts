import { describeEvent } from '../../../bin/cli/progress';
import { timeline } from '../../../bin/cli/remote';
import { parseTraceEvent } from '../../../lambdas/core/trace';

describe('progress lines of the trace', () => {
  const started = parseTraceEvent({
    type: 'run_started',
    at: '2026-01-01T00:00:00.000Z',
    step: 0,
    input: 'q',
    maxSteps: 5,
    maxTokens: 1000,
    instructions: { hash: 'abcdef0123456789', text: 'Answer in French.' },
    outputSchema: { name: 'verdict', schema: {} },
  });

  it('names the instructions by hash, and prints their text with --verbose', () => {
    expect(describeEvent(started)).toBe('run started · budgets: 5 steps, 1000 tokens · output schema verdict · instructions abcdef0123456789');
    expect(describeEvent(started, { verbose: true })).toContain('instructions abcdef0123456789:\nAnswer in French.');
    expect(timeline([started], { verbose: true })).toContain('Answer in French.');
    expect(timeline([started])).not.toContain('Answer in French.');
  });

  it('says what a compaction did and why an answer failed its schema', () => {
    const compacted = parseTraceEvent({
      type: 'context_compacted',
      at: 'x',
      step: 9,
      tier: 'primary',
      model: 'openai/m',
      reason: 'overflow',
      windowTokens: 8000,
      tokensBefore: 9000,
      tokensAfter: 4000,
      elidedThroughStep: 7,
      summarizedThroughStep: 5,
    });
    expect(describeEvent(compacted)).toBe(
      'step 9 · context compacted for openai/m (overflow, window 8000): ~9000 → ~4000 tokens · tool results elided through step 7 · steps 1-5 summarized',
    );
    const invalid = parseTraceEvent({
      type: 'model_call',
      at: 'x',
      step: 2,
      tier: 'primary',
      provider: 'openai',
      model: 'm',
      latencyMs: 5,
      estimatedPromptTokens: 10,
      outputInvalid: 'the answer is not JSON',
    });
    expect(describeEvent(invalid)).toBe('step 2 · model primary (openai/m) answer failed its output schema: the answer is not JSON');
  });
});
