import type { IncomingHttpHeaders } from 'node:http';

// A file of its own: it is public (`call.raw` on WebSocket), and the published declarations of
// the connection it comes from name `ws` types, which apps without `ws` cannot resolve.

/**
 * What a connection keeps of its upgrade request: guards read `headers` (and cookies from
 * them). The `IncomingMessage` itself is not retained (it holds buffers, parser state and
 * the socket's read side for the connection's whole life); this is each call's `raw` on WS.
 *
 * @publicApi
 */
export interface WsUpgradeRequest {
  readonly headers: IncomingHttpHeaders;
  /** The upgrade request's URL (path and query). */
  readonly url: string;
  /** The peer's address as the socket saw it. */
  readonly remoteAddress: string | undefined;
}
