import { createRequire } from 'node:module';

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
  const digits = n.replace(/^[-+]/, '').replace(/[eE].*$/, '').replace('.', '').replace(/^0+/, '').replace(/0+$/, '');
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
