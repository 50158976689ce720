import { excerpt } from './truncate';
import type { DegradedEntry, Message, StopReason } from './types';

export { excerpt } from './truncate';

/** The notice a user sees when a run stopped on a guardrail. */
export function surrenderNotice(reason: StopReason, steps: number): string {
  switch (reason) {
    case 'STEP_BUDGET':
      return `I stopped after ${steps} step${steps === 1 ? '' : 's'}, the step budget for this request, before finishing.`;
    case 'TOKEN_BUDGET':
      return 'I stopped because this request reached its token budget before I could finish.';
    case 'COST_BUDGET':
      return 'I stopped because this request reached its cost budget (in dollars) before I could finish.';
    case 'SPEND_LIMIT':
      return 'I stopped because the daily spend limit was reached; it resets at midnight UTC.';
    case 'REPETITION':
      return 'I stopped because I was about to repeat the same tool call with the same arguments, which means I was not making progress.';
    case 'OUTPUT_INVALID':
      return 'My answer did not satisfy the requested output schema, even after one repair; the raw answer follows.';
    case 'CONTEXT_WINDOW':
      return "I stopped because the conversation no longer fits the model's context window, even compacted.";
    case 'APPROVAL_EXPIRED':
      return "I stopped because a tool call that needs a person's approval was not approved or rejected in time; it did not run.";
    default:
      return `I stopped before finishing (${reason}).`;
  }
}

const DEPENDENCY_LABELS: Record<string, string> = {
  'model:primary': 'the primary model',
  'model:fallback': 'the fallback model',
};
const label = (dependency: string) => DEPENDENCY_LABELS[dependency] ?? (dependency.startsWith('tool:') ? `the ${dependency.slice(5)} tool` : dependency);

/** One line per degraded dependency, in words a user understands. */
export function degradationNotice(entries: DegradedEntry[]): string {
  if (entries.length === 0) return '';
  const lines = entries.map((d) => {
    if (d.reason === 'SPEND_FALLBACK') return 'the daily spend is near its limit, so a cheaper fallback model answered instead of the primary one.';
    const fallback =
      d.fallback === 'model:fallback'
        ? 'a smaller fallback model answered, so this answer may be less polished'
        : d.fallback === 'keyword'
          ? 'results came from the built-in keyword search instead'
          : d.fallback === 'partial-answer'
            ? 'this is a partial answer built from what was gathered so far'
            : d.fallback === 'none'
              ? 'I answered without it'
              : `used ${d.fallback} instead`;
    return `${label(d.dependency)} was unavailable (${d.reason}); ${fallback}.`;
  });
  return `Note: ${lines.join(' ')}`;
}

/**
 * The best answer a run has without another model call: the model's final text when it gave one, else a summary of
 * the tool results gathered so far (the model's last words before a tool call are an intention, not an answer).
 */
export function partialAnswer(messages: Message[]): string {
  const last = messages.at(-1);
  if (last?.role === 'assistant' && last.toolCalls.length === 0 && last.content.trim()) return last.content.trim();
  const results = messages.filter((m): m is Extract<Message, { role: 'tool' }> => m.role === 'tool' && !m.isError);
  if (results.length > 0) {
    const lines = results.slice(-5).map((r) => `- ${r.name}: ${excerpt(r.content, 300)}`);
    return `Here is what I found before stopping:\n${lines.join('\n')}`;
  }
  const said = [...messages].reverse().find((m) => m.role === 'assistant' && m.content.trim());
  return said ? said.content.trim() : 'I have no partial results to share.';
}

/** The final text of an assistant answer, with the degradation notice in front when anything degraded. */
export function withNotice(notice: string, body: string): string {
  return notice ? `${notice}\n\n${body}` : body;
}
