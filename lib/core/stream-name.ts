import { StreamErrorCode } from '../protocol/stream-error-code.js';
import { StreamException } from '../errors/stream-exception.js';
import { MAX_STREAM_NAME_LENGTH } from '../longlink.constants.js';

/**
 * Checks a stream name a client asked for: a non-empty string of at most
 * {@link MAX_STREAM_NAME_LENGTH} characters (the same cap on every transport; no `@Stream()`
 * can have a longer name). Throws `BAD_REQUEST` otherwise, without quoting the name.
 */
export function checkRequestedStreamName(name: unknown): string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new StreamException(StreamErrorCode.BAD_REQUEST, 'The stream name must be a non-empty string');
  }
  if (name.length > MAX_STREAM_NAME_LENGTH) {
    throw new StreamException(StreamErrorCode.BAD_REQUEST, `The stream name is longer than ${MAX_STREAM_NAME_LENGTH} characters`);
  }
  return name;
}
