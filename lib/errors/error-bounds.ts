/** Longest error `message` sent to a client, in UTF-8 bytes; longer ones are cut with `…`. */
export const MAX_ERROR_MESSAGE_BYTES = 1024;
/** Longest error `details` sent to a client, as UTF-8 JSON bytes; larger details are left out. */
export const MAX_ERROR_DETAILS_BYTES = 2048;
/** How much of a client's input an error message quotes (characters). */
export const MAX_ECHO_LENGTH = 64;
/** Longest WebSocket close reason, in UTF-8 bytes (RFC 6455 §5.5: 125-byte control payload less the code). */
export const MAX_WS_CLOSE_REASON_BYTES = 123;
/**
 * Longest `longlink-error-details` gRPC trailer (ASCII JSON); larger details are left out, so
 * the status message (≤ 1 KiB, ≤ 3 KiB percent-encoded) and trailers stay under the 8 KiB
 * metadata limit clients apply by default.
 */
export const MAX_GRPC_DETAILS_TRAILER_BYTES = 2048;

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
  if (maxBytes < 3) return '';
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
 * `text` as UTF-16 that encodes to valid UTF-8: every lone surrogate (half of a pair, e.g.
 * from a cut made elsewhere) becomes U+FFFD, which is what `Buffer.from` would write anyway,
 * so byte counts and what the client decodes agree.
 */
export function wellFormed(text: string): string {
  return /[\uD800-\uDFFF]/.test(text) ? text.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD') : text;
}

/**
 * A bounded protocol text field: well-formed, cut by UTF-8 bytes on a code point boundary.
 * Every string the transports write into a field with a byte limit goes through this.
 */
export function boundedText(text: string, maxBytes: number): string {
  return truncateUtf8(wellFormed(String(text)), maxBytes);
}

/** A WebSocket close reason: at most {@link MAX_WS_CLOSE_REASON_BYTES} UTF-8 bytes (`ws` throws on more). */
export function wsCloseReason(text: string): string {
  return boundedText(text, MAX_WS_CLOSE_REASON_BYTES);
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
