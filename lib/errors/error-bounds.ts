/** Longest error `message` sent to a client, in UTF-8 bytes; longer ones are cut with `…`. */
export const MAX_ERROR_MESSAGE_BYTES = 1024;
/** Longest error `details` sent to a client, as UTF-8 JSON bytes; larger details are left out. */
export const MAX_ERROR_DETAILS_BYTES = 2048;
/** How much of a client's input an error message quotes (characters). */
export const MAX_ECHO_LENGTH = 64;

function utf8Length(codePoint: number): number {
  return codePoint < 0x80 ? 1 : codePoint < 0x800 ? 2 : codePoint < 0x10000 ? 3 : 4;
}

/**
 * `text` cut to at most `maxBytes` UTF-8 bytes (on a code point boundary, `…` included).
 * Hand-written: the cut must not split a character, and only the first `maxBytes` characters
 * are ever looked at, so its cost is bounded whatever the input's size.
 */
export function truncateUtf8(text: string, maxBytes: number): string {
  if (text.length <= maxBytes && Buffer.byteLength(text, 'utf8') <= maxBytes) return text;
  const budget = maxBytes - 3; // room for '…'
  let bytes = 0;
  let end = 0;
  for (const char of text) {
    const size = utf8Length(char.codePointAt(0)!);
    if (bytes + size > budget) break;
    bytes += size;
    end += char.length;
  }
  return `${text.slice(0, end)}…`;
}

/**
 * Client input as an error message quotes it: JSON-quoted, at most {@link MAX_ECHO_LENGTH}
 * characters of it (then `…`), so a huge name or key never makes a huge error.
 */
export function excerpt(value: unknown): string {
  if (typeof value !== 'string') return JSON.stringify(value) ?? String(value);
  // A surrogate pair cut in half becomes a lone surrogate, which JSON.stringify escapes.
  return value.length > MAX_ECHO_LENGTH ? `${JSON.stringify(value.slice(0, MAX_ECHO_LENGTH))}…` : JSON.stringify(value);
}
