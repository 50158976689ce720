import { parseTraceEvent, type TraceEvent } from '../../lambdas/core/trace';
import type { RunView } from '../../lambdas/core/types';
import type { ApiTarget } from './client';

/** How often a stream that closed before `end` (the function's time ran out, a dropped connection) is reopened. */
const MAX_RECONNECTS = 20;

/** One Server-Sent Events frame. */
export interface SseFrame {
  id?: string;
  event?: string;
  data?: string;
}

/** Splits SSE text into complete frames; returns them and the unfinished rest. Comment lines are skipped. */
export function parseFrames(text: string): { frames: SseFrame[]; rest: string } {
  const frames: SseFrame[] = [];
  const blocks = text.replace(/\r\n/g, '\n').split('\n\n');
  const rest = blocks.pop() ?? '';
  for (const block of blocks) {
    const frame: SseFrame = {};
    for (const line of block.split('\n')) {
      const m = /^(id|event|data):\s?(.*)$/.exec(line);
      if (!m) continue;
      const key = m[1] as keyof SseFrame;
      frame[key] = key === 'data' && frame.data !== undefined ? `${frame.data}\n${m[2]}` : m[2];
    }
    if (frame.event || frame.data || frame.id) frames.push(frame);
  }
  return { frames, rest };
}

/**
 * Follows a run's events (GET /runs/{id}/events) until `event: end`, reopening the stream with Last-Event-ID when it
 * closes early; each trace event goes to `onEvent`. Returns the run from `end`, or undefined when the API has no
 * events route (the caller polls instead).
 */
export async function followRun(target: ApiTarget, runId: string, onEvent: (event: TraceEvent) => void): Promise<RunView | undefined> {
  let lastEventId: string | undefined;
  for (let attempt = 0; attempt <= MAX_RECONNECTS; attempt++) {
    const token = typeof target.token === 'string' ? target.token : await target.token();
    const res = await fetch(`${target.base}/runs/${encodeURIComponent(runId)}/events`, {
      headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream', ...(lastEventId ? { 'last-event-id': lastEventId } : {}) },
    });
    if (!res.ok || !res.body || !(res.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
      await res.body?.cancel();
      return undefined;
    }
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      const { frames, rest } = parseFrames(buffer + decoder.decode(chunk, { stream: true }));
      buffer = rest;
      for (const frame of frames) {
        if (frame.event === 'end') return JSON.parse(frame.data ?? '{}') as RunView;
        if (frame.id) lastEventId = frame.id;
        if (frame.data) onEvent(parseTraceEvent(JSON.parse(frame.data) as Record<string, unknown>));
      }
    }
  }
  return undefined;
}
