/** Client messages on two-way streams (PROTOCOL.md §7). */

/** A client message id: 1–128 characters of printable ASCII without spaces. */
export const INPUT_MESSAGE_ID = /^[\x21-\x7e]{1,128}$/;

/** A channel key: 16–128 characters of `A–Z a–z 0–9 _ -` (PROTOCOL.md §7.1). */
export const INPUT_CHANNEL = /^[A-Za-z0-9_-]{16,128}$/;

/** The query key that names the channel of an SSE subscription (PROTOCOL.md §7.4). */
export const SSE_CHANNEL_QUERY_KEY = 'channel';

/**
 * The default path of the SSE client message endpoint, `POST /<global prefix>/<path>/<channel>`
 * (PROTOCOL.md §7.4; the server's `sse.inputPath` option changes it).
 */
export const SSE_INPUT_DEFAULT_PATH = 'longlink/input';
