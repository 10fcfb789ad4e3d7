import type { Metadata } from '@grpc/grpc-js';
import { StreamErrorCode } from '../../protocol/stream-error-code.js';
import { StreamException } from '../../errors/stream-exception.js';
import type { StreamHeaders } from '../../interfaces/stream-call.interface.js';
import { MAX_LAST_EVENT_ID_LENGTH } from '../../longlink.constants.js';

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
