import { TransientError } from '../core/errors';
import { countTokens, estimatePromptTokens } from '../core/tokens';
import type { Message, ModelProvider, ModelRequest, ModelResponse, ToolCall } from '../core/types';

/**
 * The embedded default model: offline and deterministic, but a real participant in the loop. It reads the
 * conversation, decides tool calls (arithmetic → calculator, questions about the product → search_docs), answers from
 * tool results, and reports token usage. Behaviours by model name: default, wander, repeat, fail. Product questions
 * go to a configured tool named `retrieve` when there is one, else to `search_docs`.
 */
export type DemoBehaviour = 'default' | 'wander' | 'repeat' | 'fail';
export const DEMO_BEHAVIOURS: DemoBehaviour[] = ['default', 'wander', 'repeat', 'fail'];

const MATH = /(\d+(?:\.\d+)?\s*%\s*of\s*\d+(?:\.\d+)?)|((?:[-(]\s*)*\d+(?:\.\d+)?(?:\s*[-+*/^x×÷]\s*[(\s]*\d+(?:\.\d+)?\s*\)*)+)/i;
const RECALL = /\b(again|earlier|before|previous|previously|repeat)\b/i;
const STOP = new Set(
  'a an and are as at be by can do does for from how i in is it me of on or please tell the this to what when where which who why with you your about explain'.split(' '),
);

export function createDemoProvider(model: string): ModelProvider {
  if (!DEMO_BEHAVIOURS.includes(model as DemoBehaviour)) {
    throw new Error(`demo model "${model}" is unknown; allowed: ${DEMO_BEHAVIOURS.join(', ')}`);
  }
  const behaviour = model as DemoBehaviour;
  return {
    provider: 'demo',
    model,
    async complete(request: ModelRequest): Promise<ModelResponse> {
      if (behaviour === 'fail') throw new TransientError('demo model "fail": scripted transient failure');
      // A context summary (lambdas/core/context.ts): the transcript's opening lines, clipped.
      if (request.purpose === 'summary') {
        const transcript = request.messages.map((m) => m.content).join('\n');
        const steps = transcript.slice(transcript.indexOf('\n\n') + 2);
        const text = `Summary: ${steps.slice(0, 600)}`;
        return {
          text,
          toolCalls: [],
          usage: { inputTokens: estimatePromptTokens(request), outputTokens: Math.min(countTokens(text), request.maxOutputTokens) },
          finishReason: 'stop',
          model: `demo/${model}`,
        };
      }
      // The loop's step (a compacted prompt has fewer assistant turns than steps), else counted from the turns.
      const step = request.step ?? request.messages.filter((m) => m.role === 'assistant').length + 1;
      const decided = decide(behaviour, request.messages, step, new Set(request.tools.map((t) => t.name)));
      // Structured output: the final answer as a JSON value of the requested schema, its strings from the answer.
      const decision = request.output && decided.toolCalls.length === 0 ? { text: JSON.stringify(schemaValue(request.output.schema, decided.text, 0)), toolCalls: [] } : decided;
      const outputText = decision.text + JSON.stringify(decision.toolCalls.map((c) => [c.name, c.arguments]));
      return {
        text: decision.text,
        toolCalls: decision.toolCalls,
        usage: {
          inputTokens: estimatePromptTokens(request),
          outputTokens: Math.min(countTokens(outputText), request.maxOutputTokens),
        },
        finishReason: decision.toolCalls.length ? 'tool_use' : 'stop',
        model: `demo/${model}`,
      };
    },
  };
}

function decide(behaviour: DemoBehaviour, messages: Message[], step: number, tools: Set<string>): { text: string; toolCalls: ToolCall[] } {
  const call = (i: number, name: string, args: Record<string, unknown>): ToolCall => ({ id: `call_${step}_${i}`, name, arguments: args });
  if (behaviour === 'wander') {
    return { text: `Still exploring (step ${step}).`, toolCalls: [call(0, 'search_docs', { query: `budget topic ${step}` })] };
  }
  if (behaviour === 'repeat') {
    // The same call every step; the key order alternates, which must not fool the repetition detector.
    const args = step % 2 ? { query: 'retry policy', k: 2 } : { k: 2, query: 'retry policy' };
    return { text: `Let me look that up (step ${step}).`, toolCalls: [call(0, 'search_docs', args)] };
  }
  // The current turn starts at the last user message; what comes before it is the thread's earlier conversation.
  const turnStart = messages.map((m) => m.role).lastIndexOf('user');
  const earlier = turnStart > 0 ? messages.slice(0, turnStart) : [];
  const current = turnStart >= 0 ? messages.slice(turnStart) : messages;
  const prompt = messages[turnStart]?.content ?? '';
  const lastAssistant = current.map((m) => m.role).lastIndexOf('assistant');
  if (lastAssistant >= 0) {
    const turn = current[lastAssistant];
    const calls = turn?.role === 'assistant' ? turn.toolCalls : [];
    const results = current.slice(lastAssistant + 1).filter((m): m is Extract<Message, { role: 'tool' }> => m.role === 'tool');
    return { text: answerFrom(results, calls), toolCalls: [] };
  }
  // A follow-up about the conversation itself ("say that again", "what did I ask before?") is answered from it.
  if (earlier.length > 0 && RECALL.test(prompt)) return { text: recall(earlier), toolCalls: [] };
  const calls: ToolCall[] = [];
  const math = prompt.match(MATH)?.[0];
  if (math && tools.has('calculator')) {
    calls.push(call(calls.length, 'calculator', { expression: math.replace(/[x×]/g, '*').replace(/÷/g, '/').trim() }));
  }
  const words = (math ? prompt.replace(math, ' ') : prompt)
    .toLowerCase()
    .split(/[^a-z0-9_-]+/)
    .filter((w) => w.length > 2 && !STOP.has(w));
  // Product questions go to the configured retriever when there is one (named "retrieve"), else to search_docs.
  const searchTool = tools.has('retrieve') ? 'retrieve' : tools.has('search_docs') ? 'search_docs' : undefined;
  if (words.length >= 2 && searchTool) calls.push(call(calls.length, searchTool, { query: words.join(' ') }));
  if (calls.length === 0 && earlier.length > 0) return { text: recall(earlier), toolCalls: [] };
  if (calls.length === 0) {
    return {
      text: 'I am the offline demo model: ask me arithmetic (e.g. "What is 12.5% of 3480?") or a question about this runtime (e.g. "How does the circuit breaker work?").',
      toolCalls: [],
    };
  }
  return { text: '', toolCalls: calls };
}

function answerFrom(results: Extract<Message, { role: 'tool' }>[], calls: ToolCall[]): string {
  if (results.length === 0) return 'I have nothing more to add.';
  const parts = results.map((r) => {
    if (r.isError) return `The ${r.name} tool failed: ${r.content}`;
    if (r.name === 'calculator') {
      const expression = (calls.find((c) => c.id === r.toolCallId)?.arguments as { expression?: string } | undefined)?.expression;
      return expression ? `${expression} = ${r.content}.` : `The result is ${r.content}.`;
    }
    return `From the docs: ${r.content.length > 600 ? `${r.content.slice(0, 600)}…` : r.content}`;
  });
  return parts.join('\n\n');
}

/** A follow-up with nothing to compute or look up: the demo answers from the earlier conversation (a thread's). */
function recall(earlier: Message[]): string {
  const question = earlier.find((m) => m.role === 'user')?.content ?? '';
  const answer = earlier.findLast((m) => m.role === 'assistant' && m.toolCalls.length === 0)?.content ?? '';
  const cut = (t: string) => (t.length > 300 ? `${t.slice(0, 300)}…` : t);
  return `Earlier in this conversation you asked: "${cut(question)}"${answer ? `, and I answered: ${cut(answer)}` : ''}`;
}

/**
 * A value of a JSON Schema built from the answer text (the demo's structured output): `const`/`enum` take their
 * first value, objects their required properties (all when none are listed), arrays one item, strings the text
 * (clipped to `maxLength`), numbers the answer's last number within the bounds (else the minimum, or 0): "12.5% of
 * 3480 = 435." gives 435. Nesting is bounded.
 */
export function schemaValue(schema: unknown, text: string, depth: number): unknown {
  const s = (typeof schema === 'object' && schema !== null ? schema : {}) as Record<string, unknown>;
  if ('const' in s) return s.const;
  if (Array.isArray(s.enum) && s.enum.length) return s.enum[0];
  const variants = (s.anyOf ?? s.oneOf) as unknown[] | undefined;
  if (Array.isArray(variants) && variants.length) return schemaValue(variants[0], text, depth + 1);
  const type = Array.isArray(s.type) ? s.type.find((t) => t !== 'null') : s.type;
  if (depth > 8) return null;
  switch (type ?? (s.properties ? 'object' : 'string')) {
    case 'object': {
      const props = (s.properties ?? {}) as Record<string, unknown>;
      const names = Array.isArray(s.required) && s.required.length ? (s.required as string[]) : Object.keys(props);
      return Object.fromEntries(names.map((name) => [name, schemaValue(props[name], text, depth + 1)]));
    }
    case 'array':
      return Array.from({ length: Math.max(1, Number(s.minItems ?? 1)) }, () => schemaValue(s.items, text, depth + 1));
    case 'integer':
      return numberFrom(text, s, true) ?? Math.ceil(Number(s.minimum ?? 0));
    case 'number':
      return numberFrom(text, s, false) ?? Number(s.minimum ?? 0);
    case 'boolean':
      return true;
    case 'null':
      return null;
    default: {
      const max = typeof s.maxLength === 'number' ? s.maxLength : 2000;
      const min = typeof s.minLength === 'number' ? s.minLength : 0;
      return (text || 'n/a').slice(0, max).padEnd(min, '.');
    }
  }
}

/** The last number written in `text` that the number schema `s` allows (an integer if `integer`), if any. */
function numberFrom(text: string, s: Record<string, unknown>, integer: boolean): number | undefined {
  const fits = (n: number) =>
    Number.isFinite(n) &&
    (!integer || Number.isInteger(n)) &&
    (typeof s.minimum !== 'number' || n >= s.minimum) &&
    (typeof s.maximum !== 'number' || n <= s.maximum) &&
    (typeof s.exclusiveMinimum !== 'number' || n > s.exclusiveMinimum) &&
    (typeof s.exclusiveMaximum !== 'number' || n < s.exclusiveMaximum);
  const numbers = (text.match(/-?\d+(?:\.\d+)?/g) ?? []).map(Number);
  return numbers.reverse().find(fits);
}
