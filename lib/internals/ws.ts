/**
 * The one door to `ws` internals and to what the WebSocket transport does beside `ws`'s public
 * API: nothing else in the module writes under a `ws` socket, puts properties on `ws` objects,
 * or takes over the HTTP server's `upgrade` listeners.
 *
 * Why:
 * - Raw frames. A broadcast event's `next` message is one text frame (RFC 6455 §5.2, unmasked,
 *   FIN) built from a per-subscription prefix and a per-event tail shared by every subscriber,
 *   written straight to the connection's `net.Socket` (`transports/ws/ws.sender.ts`), skipping
 *   `ws.send()`'s per-call framing and copy. That is right only while `ws` writes its own frames
 *   synchronously to that same socket (no compression: the transport never negotiates
 *   permessage-deflate), so both kinds of frames stay in order, and while `ws.bufferedAmount`
 *   counts the socket's buffer (backpressure). `ws` keeps the socket and its `Sender` private
 *   (`_socket`, `_sender._socket`).
 * - Ownership. Each connection is found from its `ws` object and its socket through a symbol
 *   property (shared listener functions instead of closures per connection).
 * - Upgrade listeners. The transport's path is served by its own dispatcher on the HTTP
 *   server's `upgrade` event; the listeners already there (the application's own gateways,
 *   which destroy sockets for paths they do not know) get only the other paths.
 * - `closeTimeout` (a `WebSocketServer` option of ws 8.18+, not in its docs): a close
 *   handshake the peer never answers ends after it, not after 30 s.
 *
 * Checked per connection ({@link wsDirectSocket}, a few property reads): without the shape,
 * `next` frames go through the public `ws.send()`, counted in `writePaths.wsFallback`
 * (test/e2e/fast-paths.spec.ts pins the direct path; `ws.spec.ts` beside this file mutates
 * the shape).
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';

/** The `ws` versions this door was written against. */
export const WS_EXPECTED = '8.18 or later 8.x';

/**
 * The socket to write raw frames to: `socket` when `ws` writes its own frames to it (the
 * socket handed to `handleUpgrade()` is the one its `Sender` writes to), else `undefined`.
 */
export function wsDirectSocket(ws: WebSocket, socket: Socket): Socket | undefined {
  const inner = ws as unknown as { _socket?: unknown; _sender?: { _socket?: unknown } | null };
  if (inner._socket !== socket || inner._sender?._socket !== socket) return undefined;
  if (ws.extensions !== '') return undefined; // a negotiated extension (compression) transforms frames
  return socket;
}

/** `WebSocketServer` options every longlink server uses, with `ws`' undocumented `closeTimeout`. */
export function wsServerOptions(closeTimeoutMs: number): Record<string, unknown> {
  return { closeTimeout: closeTimeoutMs };
}

/** Where a `ws` socket and its `net.Socket` point back to their owner. */
const OWNER = Symbol('longlink.ws.connection');
type Owned<T> = { [OWNER]?: T };

/** Marks `ws` and `socket` as belonging to `owner` (found again with {@link ownerOf}). */
export function setOwner<T>(ws: WebSocket, socket: Socket, owner: T): void {
  (ws as unknown as Owned<T>)[OWNER] = owner;
  (socket as unknown as Owned<T>)[OWNER] = owner;
}

/** The owner of a `ws` socket or `net.Socket` marked by {@link setOwner}. */
export function ownerOf<T>(emitter: unknown): T {
  return (emitter as Owned<T>)[OWNER]!;
}

type UpgradeListener = (request: IncomingMessage, socket: Duplex, head: Buffer) => void;

/**
 * Puts `dispatch` in front of the server's `upgrade` listeners: it is called with the
 * listeners that were there (to pass on the upgrades it does not serve). Returns the function
 * that puts them back.
 */
export function takeOverUpgrade(
  server: Server,
  dispatch: (others: readonly UpgradeListener[], request: IncomingMessage, socket: Duplex, head: Buffer) => void,
): () => void {
  const others = server.listeners('upgrade') as UpgradeListener[];
  server.removeAllListeners('upgrade');
  const listener: UpgradeListener = (request, socket, head) => dispatch(others, request, socket, head);
  server.on('upgrade', listener);
  return () => {
    server.off('upgrade', listener);
    for (const other of others) server.on('upgrade', other);
  };
}
