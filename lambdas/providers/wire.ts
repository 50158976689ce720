import { ModelRefusal, TransientError } from '../core/errors';
import type { ToolCall } from '../core/types';
import { classifyResponse, type HttpResponse } from '../net/http';

/**
 * What the wire-protocol providers share: classification of a provider's HTTP response into the taxonomy (the
 * generic HTTP rules plus content-policy refusals), strict JSON parsing (a malformed body is transient), and tool
 * arguments that may not be JSON.
 */

const CONTENT_POLICY = /content[_ ]policy|content_filter|content[_ ]filtered|responsible ?ai|safety system|refus(al|ed)/i;

/** Throws the taxonomy error of a non-2xx provider response. */
export function classifyProviderResponse(res: HttpResponse, label: string): void {
  if (res.status >= 400 && res.status < 500 && res.status !== 429 && CONTENT_POLICY.test(res.text)) {
    throw new ModelRefusal(`${label} refused the request (HTTP ${res.status}): ${res.text.slice(0, 300)}`, { status: res.status });
  }
  classifyResponse(res, label);
}

/** Parses a 2xx body; a body that is not JSON (e.g. cut short) is a TransientError. */
export function parseJsonBody<T>(res: HttpResponse, label: string): T {
  try {
    return JSON.parse(res.text) as T;
  } catch {
    throw new TransientError(`${label} returned a malformed response (HTTP ${res.status}, ${res.text.length} chars): ${res.text.slice(0, 200)}`, {
      status: res.status,
    });
  }
}

/** A tool call whose arguments arrived as a JSON string: invalid JSON is kept for the model to be told, not thrown. */
export function toolCallFromJsonArguments(id: string, name: string, raw: string | undefined): ToolCall {
  const text = raw ?? '';
  if (text.trim() === '') return { id, name, arguments: {} };
  try {
    return { id, name, arguments: JSON.parse(text) };
  } catch (err) {
    return { id, name, arguments: text, argumentsError: (err as Error).message };
  }
}

/** A response that lacks what the protocol promises. */
export function malformed(label: string, what: string): TransientError {
  return new TransientError(`${label} returned a malformed response: ${what}`);
}
