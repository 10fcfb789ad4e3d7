import type { IncomingMessage } from 'node:http';
import { StreamErrorCode } from '../../protocol/stream-error-code.js';
import { StreamException } from '../../errors/stream-exception.js';
import { assertSafeKey, assertSafeKeysDeep, checkParamsObject, parseParamsJson } from '../../core/params.js';
import { MAX_LAST_EVENT_ID_LENGTH } from '../../longlink.constants.js';
import { DEFAULT_MAX_PARAMS_DEPTH } from '../../longlink.defaults.js';
import { HttpHeader, SseQuery } from '../../protocol/http.protocol.js';
import { INPUT_CHANNEL, SSE_CHANNEL_QUERY_KEY } from '../../protocol/input.protocol.js';

/** Query keys with a meaning of their own ({@link SseQuery}); every other key is a param. The ticket is never logged. */
const RESERVED_KEYS: ReadonlySet<string> = new Set(Object.values(SseQuery));

/** What an SSE request asks for. */
export interface SseRequest {
  params: Record<string, unknown>;
  lastEventId: string | undefined;
  ticket: string | undefined;
  /** The channel of a two-way stream's subscription (`channel` query value). */
  channel?: string;
}

/**
 * Reads params, the last event id and the ticket of an SSE request. Params: the JSON object
 * in the `params` query value, then every other query key (but `lastEventId` and `ticket`)
 * on top (repeated keys become arrays). Last event id: the `Last-Event-ID` header, else the
 * `lastEventId` query value. Ticket: the `ticket` query value. `input`: the stream takes
 * client messages, so `channel` is its required channel key rather than a param. Throws
 * `BAD_REQUEST` on malformed input.
 */
export function readSseRequest(req: IncomingMessage, maxDepth = DEFAULT_MAX_PARAMS_DEPTH, input = false): SseRequest {
  const query = new URL(req.url ?? '/', 'http://localhost').searchParams;
  const channel = input ? readChannel(query) : undefined;
  const json = query.getAll(SseQuery.PARAMS);
  if (json.length > 1) throw new StreamException(StreamErrorCode.BAD_REQUEST, 'params may be given once');
  const params: Record<string, unknown> = json.length ? parseParamsJson(json[0] as string, 'params', maxDepth) : {};
  const seen = new Set<string>();
  for (const [key, value] of query) {
    if (RESERVED_KEYS.has(key) || (input && key === SSE_CHANNEL_QUERY_KEY)) continue;
    assertSafeKey(key);
    if (!seen.has(key)) {
      seen.add(key);
      const all = query.getAll(key);
      params[key] = all.length > 1 ? all : value;
    }
  }
  const header = req.headers[HttpHeader.LAST_EVENT_ID];
  const fromQuery = query.getAll(SseQuery.LAST_EVENT_ID);
  if (fromQuery.length > 1) throw new StreamException(StreamErrorCode.BAD_REQUEST, 'lastEventId may be given once');
  // An empty header means "none", so the query value (if any) applies.
  const lastEventId = (Array.isArray(header) ? header[0] : header) || fromQuery[0];
  if (lastEventId !== undefined && (lastEventId.length > MAX_LAST_EVENT_ID_LENGTH || /[\r\n\0]/.test(lastEventId))) {
    throw new StreamException(StreamErrorCode.BAD_REQUEST, 'Invalid last event id');
  }
  const tickets = query.getAll(SseQuery.TICKET);
  if (tickets.length > 1) throw new StreamException(StreamErrorCode.BAD_REQUEST, 'ticket may be given once');
  const request: SseRequest = { params, lastEventId: lastEventId === '' ? undefined : lastEventId, ticket: tickets[0] || undefined };
  if (channel !== undefined) request.channel = channel;
  return request;
}

/**
 * The `channel` query value of a two-way stream's subscription (PROTOCOL.md §7.4): optional
 * (without it the subscription only reads: no message can address it), once, 16 to 128
 * characters of `A-Z a-z 0-9 _ -`. Throws `BAD_REQUEST` otherwise.
 */
function readChannel(query: URLSearchParams): string | undefined {
  const given = query.getAll(SSE_CHANNEL_QUERY_KEY);
  if (given.length === 0) return undefined;
  if (given.length > 1) throw new StreamException(StreamErrorCode.BAD_REQUEST, `${SSE_CHANNEL_QUERY_KEY} may be given once`);
  if (!INPUT_CHANNEL.test(given[0]!)) {
    throw new StreamException(StreamErrorCode.BAD_REQUEST, `${SSE_CHANNEL_QUERY_KEY} must be 16 to 128 characters of A-Z a-z 0-9 _ -`);
  }
  return given[0]!;
}

/** Thrown for a POST body over the stream's limit; answered with `413` (code `BAD_REQUEST`). */
export class SseBodyTooLargeError extends StreamException {
  constructor(readonly limitBytes: number) {
    super(StreamErrorCode.BAD_REQUEST, `Request body exceeds ${limitBytes} bytes`, { limitBytes });
  }
}

/**
 * Reads the params of a POST stream from its body: a JSON object (an empty body is `{}`),
 * at most `limit` bytes. Uses what the platform's body parser already parsed (Express
 * `json()`, Fastify's JSON and text parsers), else reads the raw body itself, stopping at the
 * limit. Throws {@link SseBodyTooLargeError} past the limit, `BAD_REQUEST` on anything else
 * that is not a JSON object.
 */
export async function readSseBody(
  req: IncomingMessage,
  parsed: unknown,
  limit: number,
  maxDepth = DEFAULT_MAX_PARAMS_DEPTH,
): Promise<Record<string, unknown>> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw new SseBodyTooLargeError(limit);
  if (typeof parsed === 'string') {
    if (Buffer.byteLength(parsed) > limit) throw new SseBodyTooLargeError(limit);
    return parsed.trim() === '' ? {} : parseParamsJson(parsed, 'body', maxDepth);
  }
  if (parsed !== undefined && parsed !== null && !Buffer.isBuffer(parsed)) {
    // JSON.parse keeps "__proto__" as an own key: check every level as parseParamsJson does.
    assertSafeKeysDeep(parsed, 'body', maxDepth);
    const params = checkParamsObject(parsed, 'body');
    if (!Number.isFinite(declared) && Buffer.byteLength(JSON.stringify(params)) > limit) throw new SseBodyTooLargeError(limit);
    return params;
  }
  if (Buffer.isBuffer(parsed)) return readText(parsed.toString('utf8'), limit, maxDepth);
  if (req.readableEnded || !req.readable) return {};
  // Hand-written rather than raw-body & co.: a dozen lines with the limit checked per chunk.
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new SseBodyTooLargeError(limit);
    chunks.push(chunk);
  }
  return readText(Buffer.concat(chunks).toString('utf8'), limit, maxDepth);
}

function readText(text: string, limit: number, maxDepth: number): Record<string, unknown> {
  if (Buffer.byteLength(text) > limit) throw new SseBodyTooLargeError(limit);
  return text.trim() === '' ? {} : parseParamsJson(text, 'body', maxDepth);
}
