import type { StoredMessage } from '../core/ports';

/**
 * The conversations a warm container has read, per run, so that the next model step reads only the messages after
 * the last one it saw (DynamoDB Query from that key on) instead of the whole conversation again.
 *
 * Why it cannot go stale: a message item is written once (conditional put) and never changed, so a message kept
 * here is the stored one. What could be missed is a message written later under a key *before* the last one seen;
 * so only a gapless prefix is kept: the conversation starts at (0, 0), every message follows the previous one
 * (the next seq of its step, or seq 0 of the next step once the previous step is complete: its assistant message
 * has a result for each of its tool calls, seq 1..n). A read after the kept prefix that does not continue it the
 * same way is not merged: the store reads the whole conversation again (and keeps its gapless prefix).
 */
export class ConversationCache {
  private readonly runs = new Map<string, readonly StoredMessage[]>();

  constructor(private readonly maxRuns = 32) {}

  /** The kept prefix of a run ([] when none). */
  get(runId: string): readonly StoredMessage[] {
    const kept = this.runs.get(runId);
    if (!kept) return [];
    // Least recently used first out: re-insert on use.
    this.runs.delete(runId);
    this.runs.set(runId, kept);
    return kept;
  }

  /** Keeps the gapless prefix of a conversation read whole. */
  set(runId: string, messages: readonly StoredMessage[]): void {
    const prefix = messages.slice(0, gaplessLength(messages));
    this.runs.delete(runId);
    if (prefix.length === 0) return;
    this.runs.set(runId, prefix);
    while (this.runs.size > this.maxRuns) this.runs.delete(this.runs.keys().next().value as string);
  }

  /**
   * The kept prefix followed by the messages read after it, when they continue it without a gap (then kept);
   * undefined otherwise (the caller reads the whole conversation).
   */
  extend(runId: string, known: readonly StoredMessage[], after: readonly StoredMessage[]): StoredMessage[] | undefined {
    const all = [...known, ...after];
    if (gaplessLength(all) !== all.length) return undefined;
    this.set(runId, all);
    return all;
  }
}

/** How many messages from the start follow one another without a possible gap. */
export function gaplessLength(messages: readonly StoredMessage[]): number {
  const first = messages[0];
  if (first?.step !== 0 || first.seq !== 0) return 0;
  let head = first;
  for (let i = 1; i < messages.length; i++) {
    const prev = messages[i - 1] as StoredMessage;
    const cur = messages[i] as StoredMessage;
    const nextInStep = cur.step === prev.step && cur.seq === prev.seq + 1;
    const nextStep = cur.step === prev.step + 1 && cur.seq === 0 && stepComplete(head, prev.seq);
    if (!nextInStep && !nextStep) return i;
    if (nextStep) head = cur;
  }
  return messages.length;
}

/** A step is complete when its assistant message has a result for each tool call (seq 1..n); other turns are one message. */
function stepComplete(head: StoredMessage, lastSeq: number): boolean {
  return head.message.role === 'assistant' ? lastSeq >= head.message.toolCalls.length : lastSeq === 0;
}
