import { createRequire } from 'node:module';
import { HISTORY_LIMIT } from '../lib/history';

/** Step Functions: a state's input or output, and a task's result, hold at most 256 KB (UTF-8). */
export const MAX_PAYLOAD_BYTES = 262_144;
/** DynamoDB: an item holds at most 400 KB, attribute names and values in UTF-8 bytes. */
export const MAX_ITEM_BYTES = 409_600;

/** The UTF-8 size of a JSON value as Step Functions measures a payload. */
export function payloadBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value ?? null), 'utf8');
}

/** An error the state machine raises itself (States.DataLimitExceeded), as the interpreter sees a task error. */
export function dataLimitError(what: string, bytes: number): Error {
  return Object.assign(new Error(`The ${what} of ${bytes} bytes exceeds the maximum size of ${MAX_PAYLOAD_BYTES} bytes.`), { name: 'States.DataLimitExceeded' });
}

/**
 * Whether a state's Catch or Retry can handle States.DataLimitExceeded: only by naming it. States.ALL does not
 * match it (AWS: "States.ALL can't catch the States.DataLimitExceeded terminal error type").
 */
export function namesDataLimit(state: Record<string, unknown>): boolean {
  const lists = [...((state.Catch ?? []) as { ErrorEquals?: string[] }[]), ...((state.Retry ?? []) as { ErrorEquals?: string[] }[])];
  return lists.some((c) => c.ErrorEquals?.includes('States.DataLimitExceeded'));
}

/**
 * StartExecution's `input` holds at most 256 KB in UTF-8, checked at the API before anything runs (the API reference's
 * length constraint on `input`, "expressed as bytes in UTF-8 encoding"). The answer, as AWS words it (recorded in
 * public code: an SDK caller's log and an emulator's test measured against AWS; the API reference lists
 * ValidationException among StartExecution's errors but not this text).
 */
export function executionInputError(input: string): { name: 'ValidationException'; message: string } | undefined {
  if (Buffer.byteLength(input, 'utf8') <= MAX_PAYLOAD_BYTES) return undefined;
  return {
    name: 'ValidationException',
    message: `1 validation error detected: Value at 'input' failed to satisfy constraint: Member must have size less than or equal to ${MAX_PAYLOAD_BYTES} bytes in UTF-8 encoding`,
  };
}

/**
 * The execution history limit, as Step Functions enforces it. AWS docs ("Avoid reaching the history quota",
 * docs.aws.amazon.com/step-functions/latest/dg/bp-history-limit.html): "a hard quota of 25,000 entries in the
 * execution event history. When an execution reaches 24,999 events, it waits for the next event to happen. If the
 * event number 25,000 is ExecutionSucceeded, the execution finishes successfully. If [it] isn't ExecutionSucceeded,
 * the ExecutionFailed event is logged and the state machine execution fails". The docs do not name the error; the
 * failure AWS reports is `States.Runtime` with the cause "The execution reached the maximum number of history events
 * (25000)." (reported from AWS in loads/ardere#86 and floci-io/floci#2734, the latter with the history's last two
 * events: #24,999 the last real one, #25,000 ExecutionFailed). It is an execution failure, not a state error: no
 * Catch or Retry sees it.
 */
export function historyLimitError(limit: number): Error {
  return Object.assign(new Error(`The execution reached the maximum number of history events (${limit}).`), { name: 'States.Runtime' });
}

/** Counts an execution's history as Step Functions writes it (local/history.ts drafts the events themselves). */
export { HistoryCounter } from './history';

/** Whether an interpreter event ends the execution (its history event may be the last one the quota allows). */
export function isExecutionEnd(event: { type: string }): boolean {
  return event.type === 'ExecutionSucceeded' || event.type === 'ExecutionFailed' || event.type === 'ExecutionAborted' || event.type === 'ExecutionTimeout';
}

/** The history limit the engine enforces by default (Step Functions' hard quota). */
export const DEFAULT_HISTORY_LIMIT = HISTORY_LIMIT;

type AttributeValue = Record<string, unknown>;

/**
 * An item's size as DynamoDB counts it: each attribute name's UTF-8 length plus its value's size (strings in UTF-8
 * bytes, binaries in bytes, numbers ~1 byte per two significant digits + 1, null/bool 1, list/map 3 + 1 per element).
 */
export function itemBytes(item: Record<string, AttributeValue>): number {
  let size = 0;
  for (const [name, value] of Object.entries(item)) size += Buffer.byteLength(name, 'utf8') + valueBytes(value);
  return size;
}

function valueBytes(value: AttributeValue): number {
  const [type, v] = Object.entries(value)[0] ?? ['NULL', true];
  switch (type) {
    case 'S':
      return Buffer.byteLength(v as string, 'utf8');
    case 'B':
      return Buffer.from(v as string, 'base64').length;
    case 'N':
      return numberBytes(v as string);
    case 'SS':
      return (v as string[]).reduce((s, x) => s + Buffer.byteLength(x, 'utf8'), 0);
    case 'BS':
      return (v as string[]).reduce((s, x) => s + Buffer.from(x, 'base64').length, 0);
    case 'NS':
      return (v as string[]).reduce((s, x) => s + numberBytes(x), 0);
    case 'L':
      return 3 + (v as AttributeValue[]).reduce((s, x) => s + 1 + valueBytes(x), 0);
    case 'M':
      return 3 + itemBytes(v as Record<string, AttributeValue>) + Object.keys(v as object).length;
    default:
      return 1;
  }
}

function numberBytes(n: string): number {
  const digits = n
    .replace(/^[-+]/, '')
    .replace(/[eE].*$/, '')
    .replace('.', '')
    .replace(/^0+/, '')
    .replace(/0+$/, '');
  return 1 + Math.ceil(Math.max(digits.length, 1) / 2) + (n.startsWith('-') ? 1 : 0);
}

let patched = false;

/**
 * dynalite checks the 400 KB item limit (PutItem, UpdateItem, BatchWriteItem) with `db.itemSize`, which counts a
 * string's characters; DynamoDB counts UTF-8 bytes. This points that check at the UTF-8 measure, so an item of
 * 2-byte characters fails offline where it fails in AWS (ValidationException: Item size has exceeded the maximum
 * allowed size). Capacity accounting keeps dynalite's own measure.
 */
export function measureItemsInUtf8(): void {
  if (patched) return;
  const require = createRequire(__filename);
  const db = require('dynalite/db') as { itemSize: (item: Record<string, AttributeValue>, ...rest: unknown[]) => number };
  const original = db.itemSize;
  db.itemSize = (item, ...rest) => (rest.length ? original(item, ...rest) : itemBytes(item));
  patched = true;
}
