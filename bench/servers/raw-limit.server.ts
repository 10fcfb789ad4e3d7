import type http from 'node:http';
import type { Socket } from 'node:net';
import { encodeMessage, RawServer } from './raw.server.js';

/** Sockets corked in this event-loop turn, uncorked together on the next tick. */
const corked: Socket[] = [];

function uncorkAll(): void {
  for (const socket of corked) socket.uncork();
  corked.length = 0;
}

/** Corks `socket` until the end of this turn (once per turn), so a turn's frames leave in one system call. */
function corkForTurn(socket: Socket): void {
  if (socket.writableCorked > 0) return;
  if (corked.length === 0) process.nextTick(uncorkAll);
  socket.cork();
  corked.push(socket);
}

/** One unmasked text frame with FIN (RFC 6455 §5.2) around `payload`. */
function wsTextFrame(payload: Buffer): Buffer {
  const n = payload.length;
  const head = n < 126 ? Buffer.from([0x81, n]) : n < 65536 ? Buffer.from([0x81, 126, n >> 8, n & 0xff]) : undefined;
  if (!head) {
    const big = Buffer.alloc(10);
    big[0] = 0x81;
    big[1] = 127;
    big.writeBigUInt64BE(BigInt(n), 2);
    return Buffer.concat([big, payload]);
  }
  return Buffer.concat([head, payload]);
}

/**
 * The limit baseline: the raw servers written the fastest way a hand-made server can, so that
 * every report shows how far the plain loops and the module are from it. Each value is framed
 * once per publish into the exact bytes every subscriber's socket gets (SSE: one HTTP/1.1
 * chunk; WebSocket: one whole text frame; gRPC: the message pre-encoded, grpc-js' serializer
 * passing it through), and each socket is corked from its first write in an event-loop turn to
 * the next tick. SSE and WebSocket frames go straight to the socket (`ws`' private `_socket`:
 * bench code, not the module).
 */
export class RawLimitServer extends RawServer {
  protected override readonly preEncoded = true;

  protected override openSse(res: http.ServerResponse): void {
    super.openSse(res);
    res.flushHeaders();
  }

  override publish(value: object): void {
    const json = JSON.stringify(value);
    if (this.sse.size > 0) {
      const text = `data: ${json}\n\n`;
      const chunk = Buffer.from(`${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`);
      for (const res of this.sse) {
        const socket = res.socket;
        if (!socket || socket.destroyed) continue;
        corkForTurn(socket);
        socket.write(chunk);
      }
    }
    if (this.ws.size > 0) {
      const frame = wsTextFrame(Buffer.from(json));
      for (const ws of this.ws) {
        const socket = (ws as unknown as { _socket: Socket })._socket;
        if (socket.destroyed) continue;
        corkForTurn(socket);
        socket.write(frame);
      }
    }
    if (this.calls.size > 0) {
      const message = encodeMessage(Buffer.from(json));
      for (const call of this.calls) call.write(message);
    }
  }
}
