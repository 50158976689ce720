import { type JudgeResult, quote } from './eval';
import { costMicros, type ModelPrice, toUsd } from './pricing';
import type { ModelProvider } from './types';

/** The optional judge of an eval case (`expect.judge`, docs/evals.md): a model asked whether an answer meets a rubric. */

/** The judge's question: does the answer meet the rubric? (Asked of the configured model; docs/evals.md.) */
export function judgePrompt(rubric: string, input: string, answer: string | null): string {
  return [
    'You are grading an AI assistant. Decide whether its answer meets the rubric.',
    'Reply with PASS or FAIL on the first line, then one sentence saying why.',
    '',
    `Rubric: ${rubric}`,
    '',
    `Request: ${input}`,
    '',
    `Answer: ${answer ?? '(no answer)'}`,
  ].join('\n');
}

/** The judge's verdict from its reply: PASS/FAIL as the first word; anything else is no verdict (a failure). */
export function judgeVerdict(reply: string): { passed: boolean; reason: string } {
  const text = reply.trim();
  const m = /^\W*(PASS|FAIL)\b[\W_]*([\s\S]*)$/i.exec(text);
  if (!m) return { passed: false, reason: `the judge gave no PASS/FAIL verdict: ${quote(text, 200)}` };
  return { passed: m[1]?.toUpperCase() === 'PASS', reason: (m[2] ?? '').trim() };
}

/**
 * Asks a model (the configured primary) whether the answer meets the rubric. Its usage is priced with `price`
 * (per million tokens; free when unknown) and reported apart from the run's. A failed call is a failed verdict.
 */
export async function judgeAnswer(
  model: ModelProvider,
  price: ModelPrice | undefined,
  req: { rubric: string; input: string; answer: string | null; maxOutputTokens?: number },
): Promise<JudgeResult> {
  try {
    const res = await model.complete({
      messages: [{ role: 'user', content: judgePrompt(req.rubric, req.input, req.answer) }],
      tools: [],
      maxOutputTokens: req.maxOutputTokens ?? 300,
    });
    const costUsd = price ? toUsd(costMicros(res.usage, price)) : 0;
    return { ...judgeVerdict(res.text), usage: res.usage, costUsd };
  } catch (err) {
    return { passed: false, reason: `the judge could not be asked (${(err as Error).name}: ${(err as Error).message})`, usage: { inputTokens: 0, outputTokens: 0 }, costUsd: 0 };
  }
}
