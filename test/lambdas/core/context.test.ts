import { COMPACT_TO, type ContextView, elisionMarker, planContext, promptMessages, summaryTranscript, WINDOW_FILL, withSummary } from '../../../lambdas/core/context';
import { BUILTIN_CONTEXT_WINDOWS, contextWindowOf, DEMO_CONTEXT_WINDOW } from '../../../lambdas/core/context-windows';
import type { StoredMessage } from '../../../lambdas/core/ports';
import { estimatePromptTokens } from '../../../lambdas/core/tokens';

/** A conversation: the question, then `steps` steps of one tool call each with a result of `resultChars` characters. */
function conversation(steps: number, resultChars = 2000): StoredMessage[] {
  const at = '2026-01-01T00:00:00.000Z';
  const out: StoredMessage[] = [{ step: 0, seq: 0, at, message: { role: 'user', content: 'What do the pages say?' } }];
  for (let s = 1; s <= steps; s++) {
    out.push({ step: s, seq: 0, at, message: { role: 'assistant', content: '', toolCalls: [{ id: `c${s}`, name: 'fetch', arguments: { n: s } }] } });
    out.push({ step: s, seq: 1, at, message: { role: 'tool', toolCallId: `c${s}`, name: 'fetch', content: `page ${s} `.repeat(resultChars).slice(0, resultChars) } });
  }
  return out;
}

const base = { system: 'Be brief.', tools: [], estimate: estimatePromptTokens, outputTokens: 500 };

describe('the prompt builder', () => {
  it('replaces elided tool results by a marker that says what was left out, and keeps the rest as stored', () => {
    const conv = conversation(3);
    const text = (i: number) => (conv[i]?.message as { content: string } | undefined)?.content ?? '';
    const messages = promptMessages(conv, { elidedThroughStep: 2 });
    expect(messages[0]).toEqual({ role: 'user', content: 'What do the pages say?' });
    const results = messages.filter((m) => m.role === 'tool').map((m) => m.content);
    expect(results[0]).toBe(elisionMarker({ name: 'fetch', content: text(2), step: 1 }));
    expect(results[0]).toContain('left out to fit the context window (2000 characters');
    expect(results[2]).toBe(text(6));
    // Tool calls and their results stay paired (every provider checks that).
    expect(messages.filter((m) => m.role === 'assistant')).toHaveLength(3);
  });

  it('replaces summarized steps by one summary turn after the question', () => {
    const view = withSummary({ elidedThroughStep: 1 }, { throughStep: 2, text: 'Pages 1-2 list foxes.', atStep: 3, usage: { inputTokens: 10, outputTokens: 5 } });
    const messages = promptMessages(conversation(3), view);
    expect(messages.map((m) => m.role)).toEqual(['user', 'user', 'assistant', 'tool']);
    expect(messages[1]?.content).toContain('Pages 1-2 list foxes.');
    expect(view.elidedThroughStep).toBe(2);
  });
});

describe('planContext', () => {
  it('changes nothing while the prompt and the output reserve fit', () => {
    const plan = planContext({ ...base, conversation: conversation(2), view: undefined, windowTokens: 100_000 });
    expect(plan).toMatchObject({ changed: false, view: undefined });
    expect(plan.after).toBe(plan.before);
  });

  it('elides the oldest tool results first, down to 3/4 of the limit (room for more steps), never the latest step', () => {
    const conv = conversation(12);
    const windowTokens = 4000;
    const plan = planContext({ ...base, conversation: conv, view: undefined, windowTokens });
    expect(plan.changed).toBe(true);
    expect(plan.limit).toBe(Math.floor(windowTokens * WINDOW_FILL) - 500);
    expect(plan.after).toBeLessThanOrEqual(Math.floor(plan.limit * COMPACT_TO));
    expect(plan.before).toBeGreaterThan(plan.limit);
    const k = plan.view?.elidedThroughStep ?? 0;
    expect(k).toBeLessThan(12);
    // One step fewer would not have gone down to the target.
    const lighter = estimatePromptTokens({ system: 'Be brief.', tools: [], messages: promptMessages(conv, { elidedThroughStep: k - 1 }) });
    expect(lighter).toBeGreaterThan(Math.floor(plan.limit * COMPACT_TO));
    expect(plan.summarizeThrough).toBeUndefined();
  });

  it('asks for a summary of the oldest steps when eliding is not enough, and only grows the view it is given', () => {
    // Long assistant turns: elided results alone cannot make it fit.
    const conv = conversation(10).map((m) => (m.message.role === 'assistant' ? { ...m, message: { ...m.message, content: 'thinking '.repeat(120) } } : m));
    const given: ContextView = { elidedThroughStep: 3 };
    const plan = planContext({ ...base, conversation: conv, view: given, windowTokens: 2500 });
    expect(plan.view?.elidedThroughStep).toBe(9);
    expect(plan.summarizeThrough).toBeGreaterThanOrEqual(1);
    expect(plan.summarizeThrough).toBeLessThan(10);
  });

  it('compacts harder after a provider overflow even when the estimate fits', () => {
    const plan = planContext({ ...base, conversation: conversation(4), view: undefined, windowTokens: 100_000, harder: true });
    expect(plan.view?.elidedThroughStep).toBe(3);
    expect(plan.summarizeThrough).toBe(3);
  });

  it('has nothing to compact in the first step: the question is never elided', () => {
    const conv = conversation(0);
    const plan = planContext({ ...base, conversation: conv, view: undefined, windowTokens: 1024, harder: true });
    expect(plan.changed).toBe(false);
    expect(plan.summarizeThrough).toBeUndefined();
  });
});

describe('the summary transcript', () => {
  it('lists the steps to summarize with their full results, clipped to fit the summary call', () => {
    const text = summaryTranscript(conversation(3), { elidedThroughStep: 2 }, 2, 100_000);
    expect(text).toContain('Step 1 assistant:');
    expect(text).toContain('fetch({"n":1})');
    expect(text).toContain('Step 2 fetch result: page 2');
    expect(text).not.toContain('Step 3');
    expect(summaryTranscript(conversation(20, 5000), { elidedThroughStep: 0 }, 19, 3000).length).toBeLessThanOrEqual(3000 + 20);
  });
});

describe('context windows', () => {
  it('knows well-known models (dated names, Bedrock geography prefixes), the demo, and what a config says', () => {
    expect(contextWindowOf({ provider: 'openai', model: 'gpt-4o-mini-2024-07-18' })).toBe(BUILTIN_CONTEXT_WINDOWS.openai['gpt-4o-mini']);
    expect(contextWindowOf({ provider: 'anthropic', model: 'claude-sonnet-4-20250514' })).toBe(200_000);
    expect(contextWindowOf({ provider: 'bedrock', model: 'us.anthropic.claude-3-5-haiku-20241022-v1:0' })).toBe(200_000);
    expect(contextWindowOf({ provider: 'demo', model: 'default' })).toBe(DEMO_CONTEXT_WINDOW);
    expect(contextWindowOf({ provider: 'openai', model: 'my-finetune' })).toBeUndefined();
    expect(contextWindowOf({ provider: 'openai', model: 'gpt-4o', contextWindowTokens: 8000 })).toBe(8000);
  });
});
