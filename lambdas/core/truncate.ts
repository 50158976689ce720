/**
 * The one truncation of text in the runtime (tool results, stored messages, trace fields): cut to a byte budget on a
 * character boundary with a marker that says how many bytes of the ORIGINAL were dropped. Cutting a text that was
 * already cut adds to the count its marker states, so a second cut never hides the first.
 */

/** "…[truncated N bytes]" (N known) or "…[truncated at least N bytes]" (the source's length was unknown). */
const MARKER = /…\[truncated (at least )?(\d+) bytes\]$/;

/** Splits a previously cut text into its kept part and the bytes its marker says were dropped. */
export function parseTruncation(text: string): { kept: string; omitted: number; atLeast: boolean } {
  const m = MARKER.exec(text);
  if (!m) return { kept: text, omitted: 0, atLeast: false };
  return { kept: text.slice(0, m.index), omitted: Number(m[2]), atLeast: Boolean(m[1]) };
}

const marker = (omitted: number, atLeast: boolean) => `…[truncated ${atLeast ? 'at least ' : ''}${omitted} bytes]`;

/** Byte offset ≤ `end` that does not split a UTF-8 character of `buf`. */
export function utf8Boundary(buf: Uint8Array, end: number): number {
  let cut = Math.max(0, Math.min(end, buf.length));
  while (cut > 0 && cut < buf.length && ((buf[cut] ?? 0) & 0xc0) === 0x80) cut--;
  return cut;
}

/**
 * Cuts `text` to at most `maxBytes` UTF-8 bytes (never inside a character) and appends "…[truncated N bytes]".
 * N counts every byte dropped from the original: the bytes cut here, `extraOmitted` bytes that were never read
 * (`extraAtLeast` when that count is a lower bound: "at least N"), and what an earlier marker on `text` already
 * stated. The marker is not counted in `maxBytes`, so a cut text passes the same check again unchanged.
 */
export function truncateUtf8(text: string, maxBytes: number, extraOmitted = 0, extraAtLeast = false): string {
  const previous = parseTruncation(text);
  const buf = Buffer.from(previous.kept, 'utf8');
  if (buf.length <= maxBytes && extraOmitted === 0) return text;
  const end = utf8Boundary(buf, maxBytes);
  const omitted = buf.length - end + previous.omitted + extraOmitted;
  return `${buf.subarray(0, end).toString('utf8')}${marker(omitted, previous.atLeast || (extraAtLeast && extraOmitted > 0))}`;
}

/** A short single-line excerpt (trace fields, error messages, progress lines): white space folded, at most `max` characters with the ellipsis. */
export function excerpt(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}

/** The excerpt of a response body for an error message; an empty body says so. */
export function bodyExcerpt(text: string, max: number): string {
  return excerpt(text, max) || '(empty body)';
}
