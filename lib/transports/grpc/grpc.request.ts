import type { Metadata } from '@grpc/grpc-js';
import { StreamErrorCode } from '../../protocol/stream-error-code.js';
import { StreamException } from '../../errors/stream-exception.js';
import type { StreamHeaders } from '../../interfaces/stream-call.interface.js';
import { MAX_LAST_EVENT_ID_LENGTH } from '../../longlink.constants.js';
import { parseParamsJson } from '../../core/params.js';
import { GRPC_PARAMS_METADATA } from '../../protocol/grpc.protocol.js';
import { INPUT_CHANNEL } from '../../protocol/input.protocol.js';

/** gRPC metadata as headers: lower-case keys, text values (binary `-bin` keys are skipped). */
export function metadataToHeaders(metadata: Metadata): StreamHeaders {
  const headers: StreamHeaders = {};
  for (const [key, value] of Object.entries(metadata.getMap())) {
    if (typeof value === 'string') headers[key] = value;
  }
  return headers;
}

/** Validates a last event id from a request field or the `last-event-id` metadata. */
export function checkLastEventId(value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (value.length > MAX_LAST_EVENT_ID_LENGTH || /[\r\n\0]/.test(value)) {
    throw new StreamException(StreamErrorCode.BAD_REQUEST, 'Invalid last event id');
  }
  return value;
}

/** A typed bidi call's params: the `longlink-params` metadata, a JSON object (none: `{}`). */
export function paramsFromMetadata(metadata: Metadata, maxDepth: number): Record<string, unknown> {
  const value = metadata.get(GRPC_PARAMS_METADATA)[0];
  if (value === undefined) return {};
  if (typeof value !== 'string') throw new StreamException(StreamErrorCode.BAD_REQUEST, `${GRPC_PARAMS_METADATA} must be text`);
  return parseParamsJson(value, GRPC_PARAMS_METADATA, maxDepth);
}

/** Validates a `SubscribeRequest.channel` (empty: none). */
export function checkChannel(value: string): string | undefined {
  if (value === '') return undefined;
  if (!INPUT_CHANNEL.test(value)) {
    throw new StreamException(StreamErrorCode.BAD_REQUEST, '"channel" must be 16 to 128 characters of A-Z a-z 0-9 _ -');
  }
  return value;
}
