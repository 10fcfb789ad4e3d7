import type { StreamDefinition } from '../../core/stream-definition.js';
import { joinStreamName, type StreamRegistry } from '../../core/stream-registry.js';
import { excerpt } from '../../errors/error-bounds.js';
import { StreamException } from '../../errors/stream-exception.js';
import { MAX_STREAM_NAME_LENGTH } from '../../longlink.constants.js';
import { StreamErrorCode } from '../../protocol/stream-error-code.js';

/** Where unknown stream names under a controller path are answered. */
export interface StreamBase {
  /** Route path of the controller part (`/api/v2/admin/feed`). */
  path: string;
  /** The matching stream-name prefix (`v2/feed`). */
  name: string;
}

/**
 * The refusal of a GET under a controller that has streams, for a path that is not a stream
 * it serves (PROTOCOL.md §3.2, §3.9): the NOT_FOUND JSON saying why (unknown, a POST stream
 * asked with GET, a percent-encoded path), or BAD_REQUEST for a name past the length limit.
 */
export function notFoundError(url: string, base: StreamBase, registry: StreamRegistry): StreamException {
  const path = new URL(url, 'http://localhost').pathname;
  let decoded = path;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    // keep it encoded
  }
  const name = joinStreamName(base.name, joinStreamName(decoded).slice(joinStreamName(base.path).length));
  if (name.length > MAX_STREAM_NAME_LENGTH) {
    return new StreamException(StreamErrorCode.BAD_REQUEST, `The stream name is longer than ${MAX_STREAM_NAME_LENGTH} characters`);
  }
  return new StreamException(StreamErrorCode.NOT_FOUND, notFoundMessage(name, registry.find(name, 'sse'), decoded !== path));
}

/**
 * Why a path under a stream controller is not a stream: unknown, a POST stream asked with GET,
 * or an existing stream whose path was percent-encoded (routes match the path as sent).
 */
function notFoundMessage(name: string, found: StreamDefinition | undefined, encoded: boolean): string {
  if (!found) return `Unknown stream ${excerpt(name)}`;
  if (found.options.sse?.method === 'POST') return `Stream ${excerpt(name)} is a POST stream: request it with POST and a JSON body`;
  if (encoded) return `Stream ${excerpt(name)} is served at its path without percent-encoding`;
  return `Unknown stream ${excerpt(name)}`;
}
