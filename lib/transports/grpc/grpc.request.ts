import type { Metadata } from '@grpc/grpc-js';
import { StreamErrorCode } from '../../errors/stream-error-code.js';
import { StreamException } from '../../errors/stream-exception.js';
import { assertSafeKey } from '../../core/params.js';
import type { StreamHeaders } from '../../interfaces/stream-call.interface.js';
import { MAX_LAST_EVENT_ID_LENGTH } from '../../longlink.constants.js';

/** A `google.protobuf.Value` as proto-loader decodes it (with `oneofs: true`). */
interface ProtoValue {
  kind?: string;
  nullValue?: unknown;
  numberValue?: number;
  stringValue?: string;
  boolValue?: boolean;
  structValue?: { fields?: Record<string, ProtoValue> };
  listValue?: { values?: ProtoValue[] };
}

function valueToJson(value: ProtoValue): unknown {
  switch (value.kind) {
    case 'numberValue':
      return value.numberValue;
    case 'stringValue':
      return value.stringValue;
    case 'boolValue':
      return value.boolValue;
    case 'structValue':
      return structToJson(value.structValue);
    case 'listValue':
      return (value.listValue?.values ?? []).map(valueToJson);
    default:
      return null;
  }
}

/** Converts a decoded `google.protobuf.Struct` into a plain JSON object. */
export function structToJson(struct: { fields?: Record<string, ProtoValue> } | null | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(struct?.fields ?? {})) {
    assertSafeKey(key);
    out[key] = valueToJson(value);
  }
  return out;
}

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
