import { parseParamsJson, checkParamsObject, jsonDepthExceeds } from '../../core/params.js';
import { StreamErrorCode } from '../../protocol/stream-error-code.js';
import { StreamException } from '../../errors/stream-exception.js';
import { excerpt } from '../../errors/error-bounds.js';
import { MAX_LAST_EVENT_ID_LENGTH, MAX_STREAM_NAME_LENGTH, MAX_WS_SUBSCRIPTION_ID_LENGTH } from '../../longlink.constants.js';
import { DEFAULT_MAX_PARAMS_DEPTH } from '../../longlink.defaults.js';
import { WS_CLIENT_MESSAGE_TYPES } from '../../protocol/ws.protocol.js';
import { INPUT_CHANNEL, INPUT_MESSAGE_ID } from '../../protocol/input.protocol.js';

/** A message from the client, validated. */
export type WsClientMessage =
  | {
      type: 'subscribe';
      id: string;
      stream: string;
      params: Record<string, unknown>;
      lastEventId: string | undefined;
      /** The client asked for a `subscribed` message once the server holds the subscription. */
      ack: boolean;
      /** The channel key (two-way streams, PROTOCOL.md §7.1). */
      channel: string | undefined;
    }
  | { type: 'input'; id: string; messageId: string; data: unknown }
  | { type: 'input_end'; id: string }
  | { type: 'unsubscribe'; id: string }
  | { type: 'init'; payload: Record<string, unknown> | undefined }
  | { type: 'ping' };

/** A malformed message; `subscriptionId` is set when the message had a valid id. */
export class WsProtocolError extends StreamException {
  constructor(
    message: string,
    readonly subscriptionId?: string,
    details?: unknown,
  ) {
    super(StreamErrorCode.BAD_REQUEST, message, details);
  }
}

/**
 * The subscription id of a message refused as a whole, so the refusal ends that subscription.
 * `JSON.parse` without a reviver is iterative in V8 (any depth, linear cost); only `id` is read.
 */
function idOf(text: string): string | undefined {
  try {
    const id = (JSON.parse(text) as { id?: unknown } | null)?.id;
    return typeof id === 'string' && id.length > 0 && id.length <= MAX_WS_SUBSCRIPTION_ID_LENGTH ? id : undefined;
  } catch {
    return undefined;
  }
}

const TYPES: ReadonlySet<string> = new Set(WS_CLIENT_MESSAGE_TYPES);

/**
 * Parses and validates one client frame. Throws {@link WsProtocolError} (`BAD_REQUEST`)
 * for binary frames, non-JSON, non-objects, `__proto__`/`constructor`/`prototype` keys,
 * unknown types, missing or oversized ids and malformed fields.
 */
export function parseWsMessage(data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean, maxDepth = DEFAULT_MAX_PARAMS_DEPTH): WsClientMessage {
  if (isBinary) throw new WsProtocolError('Binary frames are not supported; send JSON text');
  const text = Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data as Buffer).toString('utf8');
  // The message is one level above its params (or init payload): the same limit as elsewhere.
  if (jsonDepthExceeds(text, maxDepth + 1)) {
    throw new WsProtocolError(`"params" and "payload" are nested too deeply (at most ${maxDepth} levels)`, idOf(text), { maxDepth });
  }
  let message: Record<string, unknown>;
  try {
    message = parseParamsJson(text, 'message', maxDepth + 1);
  } catch (error) {
    throw new WsProtocolError(error instanceof Error ? error.message : 'message is not valid JSON');
  }
  const { type } = message;
  if (typeof type !== 'string' || !TYPES.has(type)) {
    throw new WsProtocolError(`Unknown message type ${excerpt(type)}`);
  }
  if (type === 'ping') return { type };
  if (type === 'init') {
    const { payload } = message;
    if (payload === undefined || payload === null) return { type, payload: undefined };
    try {
      return { type, payload: checkParamsObject(payload, '"payload"') };
    } catch {
      throw new WsProtocolError('"payload" must be a JSON object');
    }
  }
  const { id } = message;
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_WS_SUBSCRIPTION_ID_LENGTH) {
    throw new WsProtocolError(`"id" must be a string of 1 to ${MAX_WS_SUBSCRIPTION_ID_LENGTH} characters`);
  }
  if (type === 'unsubscribe' || type === 'input_end') return { type, id };
  if (type === 'input') {
    const { messageId, data } = message;
    if (typeof messageId !== 'string' || !INPUT_MESSAGE_ID.test(messageId)) {
      throw new WsProtocolError('"messageId" must be 1 to 128 printable ASCII characters', id);
    }
    return { type, id, messageId, data: data === undefined ? null : data };
  }
  const { stream, params, lastEventId, ack, channel } = message;
  if (channel !== undefined && (typeof channel !== 'string' || !INPUT_CHANNEL.test(channel))) {
    throw new WsProtocolError('"channel" must be 16 to 128 characters of A-Z a-z 0-9 _ -', id);
  }
  if (typeof stream !== 'string' || stream.length === 0 || stream.length > MAX_STREAM_NAME_LENGTH) {
    throw new WsProtocolError(`"stream" must be a string of 1 to ${MAX_STREAM_NAME_LENGTH} characters`, id);
  }
  let checked: Record<string, unknown> = {};
  if (params !== undefined) {
    try {
      checked = checkParamsObject(params);
    } catch {
      throw new WsProtocolError('"params" must be a JSON object', id);
    }
  }
  if (
    lastEventId !== undefined &&
    (typeof lastEventId !== 'string' || lastEventId.length > MAX_LAST_EVENT_ID_LENGTH || /[\r\n\0]/.test(lastEventId))
  ) {
    throw new WsProtocolError('"lastEventId" must be a string without line breaks', id);
  }
  return { type: 'subscribe', id, stream, params: checked, lastEventId: lastEventId === '' ? undefined : lastEventId, ack: ack === true, channel };
}
